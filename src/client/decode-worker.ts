// A decode worker thread (decode-workers.ts starts it; scripts/build-cli.mjs bundles it as
// dist/cli/decode-worker.js): decodes and checks each chunk it is sent, on this thread (the native
// decoders run here, not on libuv's pool), and transfers the chunk back. Jobs come in batches; the
// answers ready in one tick go back in one message.
import { parentPort } from "node:worker_threads";
import { ChunkIdMismatch } from "../format/chunk-check.js";
import { decodeChunkInThread } from "./decode.js";
import { type DecodeAnswer, type DecodeJob, transferableCopy } from "./decode-workers.js";

const port = parentPort;
if (!port) throw new Error("decode-worker.js runs as a worker thread (decode-workers.ts)");
let outbox: DecodeAnswer[] = [];

port.on("message", (jobs: DecodeJob[]) => {
  for (const job of jobs) void decode(job);
});

async function decode({ job, frame, id, length }: DecodeJob): Promise<void> {
  let answer: DecodeAnswer;
  try {
    const bytes = await decodeChunkInThread(frame, id, length, "here");
    answer = { job, bytes: transferableCopy(bytes) };
  } catch (error) {
    const { name, message } = error as Error;
    const actual = error instanceof ChunkIdMismatch ? error.actual : undefined;
    answer = { job, error: { name, message, actual } };
  }
  if (outbox.length === 0) queueMicrotask(answerAll);
  outbox.push(answer);
}

function answerAll(): void {
  const answers = outbox;
  outbox = [];
  port?.postMessage(
    answers,
    answers.flatMap((answer) => ("bytes" in answer ? [answer.bytes.buffer] : [])),
  );
}
