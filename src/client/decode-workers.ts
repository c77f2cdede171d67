import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ChunkIdMismatch, NotAChunkFrame } from "../format/chunk-check.js";
import { FormatError } from "../format/errors.js";

/** What the main thread posts to a decode worker (in batches): a copy of the frame, transferred. */
export interface DecodeJob {
  job: number;
  frame: Uint8Array<ArrayBuffer>;
  id: string;
  length: number;
}

/** A decode worker's answer: the chunk (transferred back), or why the frame is not that chunk. */
export type DecodeAnswer =
  | { job: number; bytes: Uint8Array<ArrayBuffer> }
  | { job: number; error: { name: string; message: string; actual?: string } };

/** A decode worker stopped (it crashed, or was stopped) before it answered. Not a FormatError. */
export class DecodeWorkerError extends Error {
  override name = "DecodeWorkerError";
}

/** The worker's script where the CLI bundle puts it (scripts/build-cli.mjs): beside this code. */
export const DECODE_WORKER_SCRIPT = new URL("./decode-worker.js", import.meta.url);

/**
 * How many decode worker threads a process may start (a whole number; unset or 0: none, every
 * chunk is decoded on the main thread). Off by default: on 2 cores they cost more CPU than they
 * take off the main thread (bench:fetch's notes, issue 14).
 */
export const DECODE_WORKERS_ENV = "EDGEBOOT_DECODE_WORKERS";

/** Decodes asked for before workers are worth their start (a few chunks never are)... */
const START_AFTER_DECODES = 32;
/** ...with this many in flight at once on the main thread at some point: a pipeline. */
const START_AT_CONCURRENT = 4;

/**
 * Decode worker threads: each gets a copy of a chunk's frame (transferred, never cloned),
 * decompresses and checks it exactly as `decodeChunkInThread` does, and transfers the chunk back,
 * leaving the main thread its HTTP, the image hash and the writes. A job goes to the worker with
 * the fewest in hand. A worker that stops fails the jobs it held with a {@link DecodeWorkerError}
 * saying why, and takes no more; when none is left, {@link decode} declines.
 */
export class DecodeWorkers {
  private readonly threads: DecodeThread[];
  private nextJob = 0;

  constructor(script: URL, count: number) {
    this.threads = Array.from({ length: count }, (_, index) => new DecodeThread(script, index));
  }

  /**
   * The chunk `id` of `length` bytes from `frame`, decoded on a worker; undefined when no worker is
   * ready (not yet, or no more): the caller decodes it itself. `frame` is copied, never detached.
   */
  decode(frame: Uint8Array, id: string, length: number): Promise<Uint8Array> | undefined {
    let best: DecodeThread | undefined;
    for (const thread of this.threads) {
      if (thread.ready && (!best || thread.inHand < best.inHand)) best = thread;
    }
    return best?.decode({ job: this.nextJob++, frame: transferableCopy(frame), id, length });
  }

  /** Resolves once every worker is ready or stopped. */
  async started(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.started));
  }

  /** Whether any worker is ready, or still starting. */
  get alive(): boolean {
    return this.threads.some((thread) => !thread.stopped);
  }

  /** Stops every worker; the jobs they hold fail. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.stop()));
  }
}

/**
 * A copy of `bytes` in an ArrayBuffer of its own, which postMessage can move. Transferring `bytes`
 * themselves is no good: a Buffer may be a view of a pool other Buffers share, and the memory of
 * one a native addon made (the zstd binding's output) is silently cloned instead of moved.
 */
export function transferableCopy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return new Uint8Array(copy.buffer as ArrayBuffer, 0, bytes.byteLength);
}

interface Waiting {
  id: string;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
}

/** One worker thread and the jobs it holds. */
class DecodeThread {
  ready = false;
  stopped = false;
  readonly started: Promise<void>;
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private outbox: DecodeJob[] = [];
  private failure: string | undefined;

  constructor(
    script: URL,
    private readonly index: number,
  ) {
    this.worker = new Worker(script);
    this.started = new Promise((resolve) => {
      this.worker.once("online", () => {
        this.ready = !this.stopped;
        resolve();
      });
      this.worker.once("exit", () => resolve());
    });
    this.worker.on("message", (answers: DecodeAnswer[]) => {
      for (const answer of answers) this.answer(answer);
    });
    this.worker.on("error", (error) => {
      this.failure ??= `it failed: ${error.message}`;
    });
    this.worker.on("messageerror", (error) => {
      this.failure ??= `an answer could not be read: ${error.message}`;
    });
    this.worker.once("exit", (code) => this.exited(code));
    // Held only while it holds jobs, so an idle worker never keeps the process alive; after the
    // listeners: adding the "message" one holds it again.
    this.worker.unref();
  }

  get inHand(): number {
    return this.waiting.size;
  }

  decode(job: DecodeJob): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(job.job, { id: job.id, resolve, reject });
      if (this.outbox.length === 0) queueMicrotask(() => this.post());
      this.outbox.push(job);
    });
  }

  async stop(): Promise<void> {
    this.failure ??= "it was stopped";
    await this.worker.terminate();
  }

  /** Posts the jobs of this tick in one message: one wake-up of the worker, not one a job. */
  private post(): void {
    const jobs = this.outbox;
    this.outbox = [];
    if (this.stopped) return;
    this.worker.postMessage(
      jobs,
      jobs.map((job) => job.frame.buffer),
    );
  }

  private answer(answer: DecodeAnswer): void {
    const waiting = this.waiting.get(answer.job);
    if (!waiting) return;
    this.waiting.delete(answer.job);
    if (this.waiting.size === 0) this.worker.unref();
    if ("bytes" in answer) waiting.resolve(answer.bytes);
    else waiting.reject(decodeError(waiting.id, answer.error));
  }

  private exited(code: number): void {
    this.ready = false;
    this.stopped = true;
    const why = this.failure ?? `it exited with code ${code}`;
    for (const [job, waiting] of this.waiting) {
      this.waiting.delete(job);
      waiting.reject(
        new DecodeWorkerError(
          `decode worker ${this.index} stopped before it decoded chunk ${waiting.id}: ${why}`,
        ),
      );
    }
  }
}

/** The error a worker reported, as the class `decodeChunkInThread` threw there. */
function decodeError(id: string, error: { name: string; message: string; actual?: string }): Error {
  if (error.name === "ChunkIdMismatch" && error.actual)
    return new ChunkIdMismatch(id, error.actual);
  if (error.name === "NotAChunkFrame") return new NotAChunkFrame();
  if (error.name === "FormatError") return new FormatError(error.message);
  return new DecodeWorkerError(`decode worker failed on chunk ${id}: ${error.message}`);
}

let pool: DecodeWorkers | undefined;
let wanted: number | undefined;
let asked = 0;
let inThread = 0;
let mostInThread = 0;

/**
 * This process's decode workers, started when first worth it: after {@link START_AFTER_DECODES}
 * decodes with {@link START_AT_CONCURRENT} in flight at once, where {@link DECODE_WORKERS_ENV}
 * asks for some (read at the first decode), the process may use more than one CPU and the
 * worker's script is there (it is not when running from source). Undefined until they are ready,
 * for good once they stopped, and when there are none: `decodeChunk` then decodes on the main
 * thread.
 */
export function decodeWorkers(): DecodeWorkers | undefined {
  if (pool) return pool.alive ? pool : undefined;
  wanted ??= workerCount();
  if (wanted === 0 || ++asked < START_AFTER_DECODES || mostInThread < START_AT_CONCURRENT) {
    return undefined;
  }
  try {
    pool = new DecodeWorkers(DECODE_WORKER_SCRIPT, wanted);
  } catch (error) {
    process.emitWarning(`decode workers do not start (${(error as Error).message}): decoding here`);
    wanted = 0;
  }
  return undefined;
}

/**
 * `decoding`, a decode on the main thread, counted while it runs until workers are wanted and
 * started ({@link decodeWorkers} starts them on a pipeline, not on reads one at a time).
 */
export function countedInThread<T>(decoding: Promise<T>): Promise<T> {
  if (wanted === 0 || pool) return decoding;
  inThread++;
  mostInThread = Math.max(mostInThread, inThread);
  return decoding.finally(() => inThread--);
}

/**
 * The workers {@link DECODE_WORKERS_ENV} asks for, if this process can start them (0 and a
 * warning for a value that is no count: it is read in the middle of a decode, which must not fail).
 */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  const asked = env[DECODE_WORKERS_ENV];
  if (asked === undefined || asked === "" || asked === "0") return 0;
  const count = Number(asked);
  if (!Number.isInteger(count) || count < 0) {
    process.emitWarning(
      `${DECODE_WORKERS_ENV}=${asked} is not a whole number of threads: decoding on the main thread`,
    );
    return 0;
  }
  const script = DECODE_WORKER_SCRIPT;
  const found = script.protocol === "file:" && existsSync(fileURLToPath(script));
  return found && availableParallelism() > 1 ? count : 0;
}
