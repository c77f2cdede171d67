import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { Encoder } from "@toondepauw/node-zstd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DecodeWorkerError,
  DecodeWorkers,
  transferableCopy,
  workerCount,
} from "../../src/client/decode-workers.js";
import { fromBase64 } from "../../src/format/base64.js";
import { ChunkIdMismatch, NotAChunkFrame } from "../../src/format/chunk-check.js";
import { FormatError } from "../../src/format/errors.js";
import { type CliRun, imageBytes, publishBytes, useEdgeAndDir } from "../cli/edge.js";
import {
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

/** The worker as the CLI runs it: the test setup builds dist/cli from this tree. */
const SCRIPT = new URL("../../dist/cli/decode-worker.js", import.meta.url);
/** Where a copy of the CLI goes (under the repository, so that it finds node_modules). */
const OUTPUT = "dist/test-output/decode-workers";
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const chunk = Buffer.from(sample(200_000));

async function started(count = 2, script = SCRIPT): Promise<DecodeWorkers> {
  const workers = new DecodeWorkers(script, count);
  await workers.started();
  return workers;
}

/** The promise of a worker's decode: there must be a ready worker to take it. */
function onWorker(workers: DecodeWorkers, frame: Uint8Array, id: string, length: number) {
  const decoding = workers.decode(frame, id, length);
  if (!decoding) throw new Error("no decode worker took the job");
  return decoding;
}

describe("DecodeWorkers", () => {
  let workers: DecodeWorkers;
  beforeAll(async () => {
    workers = await started();
  });
  afterAll(() => workers.close());

  it("decodes zstd and gzip frames of the right chunk, and leaves the frame as it was", async () => {
    const zstd = new Encoder(3).encodeSync(chunk);
    const before = sha(zstd);
    const bytes = await onWorker(workers, zstd, sha(chunk), chunk.byteLength);
    expect(sha(bytes)).toBe(sha(chunk));
    expect(zstd.byteLength).toBeGreaterThan(0);
    expect(sha(zstd)).toBe(before);
    const gzip = gzipSync(chunk);
    expect(sha(await onWorker(workers, gzip, sha(chunk), chunk.byteLength))).toBe(sha(chunk));
    const small = sample(5000);
    expect(sha(await onWorker(workers, fromBase64(NO_FCS_B64), sha(small), 5000))).toBe(sha(small));
  });

  it("decodes many chunks at once, each to its own bytes", async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.from(sample(4096 + i * 997)));
    const frames = chunks.map((bytes) => new Encoder(3).encodeSync(bytes));
    const decoded = await Promise.all(
      frames.map((frame, i) =>
        onWorker(workers, frame, sha(chunks[i] as Buffer), (chunks[i] as Buffer).byteLength),
      ),
    );
    expect(decoded.map(sha)).toEqual(chunks.map(sha));
  });

  it("refuses another chunk's bytes, a wrong length, garbage and a declared size as decodeChunk does", async () => {
    const other = new Encoder(3).encodeSync(Buffer.from(sample(1000)));
    const wrongId = onWorker(workers, other, sha(chunk), 1000);
    await expect(wrongId).rejects.toThrow(ChunkIdMismatch);
    await expect(wrongId).rejects.toThrow(/wrong bytes/);
    await expect(onWorker(workers, other, sha(chunk), chunk.byteLength)).rejects.toThrow(
      /decompressed to 1000 bytes, not 200000/,
    );
    await expect(onWorker(workers, new Uint8Array([1, 2, 3, 4]), sha(chunk), 4)).rejects.toThrow(
      NotAChunkFrame,
    );
    await expect(
      onWorker(workers, fromBase64(WITH_FCS_B64), sha(sample(5000)), 4999),
    ).rejects.toThrow(/declares 5000 bytes/);
  });

  it("stops zstd and gzip bombs at the chunk's length", async () => {
    const started = performance.now();
    for (const b64 of [BOMB_FCS_B64, BOMB_NO_FCS_B64]) {
      await expect(onWorker(workers, fromBase64(b64), "0".repeat(64), 65536)).rejects.toThrow(
        FormatError,
      );
    }
    const gzipBomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    await expect(onWorker(workers, gzipBomb, "0".repeat(64), 65536)).rejects.toThrow(FormatError);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("a decode worker that stops", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgeboot-decode-workers-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function dying(name: string, onMessage: string): Promise<DecodeWorkers> {
    const script = join(dir, name);
    await writeFile(
      script,
      `import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => { ${onMessage} });\n`,
    );
    return started(1, pathToFileURL(script));
  }

  it("fails the chunks it held with what happened, then takes no more", async () => {
    const workers = await dying("exits.mjs", "process.exit(3);");
    const id = sha(chunk);
    const decoding = onWorker(workers, gzipSync(chunk), id, chunk.byteLength);
    await expect(decoding).rejects.toThrow(DecodeWorkerError);
    await expect(decoding).rejects.toThrow(
      `decode worker 0 stopped before it decoded chunk ${id}: it exited with code 3`,
    );
    expect(workers.alive).toBe(false);
    expect(workers.decode(gzipSync(chunk), id, chunk.byteLength)).toBeUndefined();
  });

  it("says what a worker that throws threw", async () => {
    const workers = await dying("throws.mjs", 'throw new Error("out of luck");');
    const decoding = onWorker(workers, gzipSync(chunk), sha(chunk), chunk.byteLength);
    await expect(decoding).rejects.toThrow(
      /stopped before it decoded chunk .*: it failed: out of luck/,
    );
  });

  it("fails what it held when it is stopped", async () => {
    const workers = await dying("silent.mjs", "");
    const decoding = onWorker(workers, gzipSync(chunk), sha(chunk), chunk.byteLength);
    await workers.close();
    await expect(decoding).rejects.toThrow(/it was stopped/);
  });
});

describe("decode workers, the rest", () => {
  it("copies a Buffer into memory of its own (a Buffer's slice would share it)", () => {
    const pool = Buffer.from("0123456789");
    const view = pool.subarray(2, 6);
    const copy = transferableCopy(view);
    expect(Buffer.from(copy).toString()).toBe("2345");
    expect(copy.buffer).not.toBe(pool.buffer);
    expect(copy.byteLength).toBe(copy.buffer.byteLength);
  });

  it("starts none unless EDGEBOOT_DECODE_WORKERS asks for a count (and none when run from source)", () => {
    expect(workerCount({})).toBe(0);
    expect(workerCount({ EDGEBOOT_DECODE_WORKERS: "0" })).toBe(0);
    // From source, the worker's script is not beside decode-workers.ts: none, whatever is asked.
    expect(workerCount({ EDGEBOOT_DECODE_WORKERS: "2" })).toBe(0);
  });
});

describe("edgeboot fetch with decode workers", () => {
  const fixture = useEdgeAndDir();
  const original = imageBytes(192 * 65536 + 77, 5);
  const fetch = (cli: string, out: string, cache: string) =>
    runScript(cli, ["fetch", fixture.edge.url, "workers", "-o", out, "--cache-dir", cache], {
      EDGEBOOT_DECODE_WORKERS: "2",
    });
  beforeAll(async () => {
    await publishBytes(fixture.edge, fixture.dir, "workers", original, "--chunking", "fixed:64K");
  });

  it("fetches an image bit for bit, cold then warm", async () => {
    const cache = join(fixture.dir, "cache");
    for (const [round, from] of [
      ["cold", "0 from the cache"],
      ["warm", "193 from the cache"],
    ] as const) {
      const out = join(fixture.dir, `${round}.img`);
      const run = await fetch("bin/edgeboot.js", out, cache);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/decode worker|wrong bytes|corrupt/);
      expect(run.stdout).toContain(from);
      expect(sha(await readFile(out))).toBe(sha(original));
    }
  });

  it("finishes a fetch whose decode workers die, and says so", async () => {
    // The CLI's bundle with a worker beside it that exits on its first batch of jobs.
    await mkdir(OUTPUT, { recursive: true });
    const cli = await mkdtemp(join(OUTPUT, "dying-"));
    try {
      await copyFile("dist/cli/edgeboot.js", join(cli, "edgeboot.js"));
      await writeFile(
        join(cli, "decode-worker.js"),
        'import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => process.exit(3));\n',
      );
      const out = join(fixture.dir, "dying.img");
      const run = await fetch(join(cli, "edgeboot.js"), out, join(fixture.dir, "dying-cache"));
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(
        /decode worker \d stopped before it decoded chunk [0-9a-f]{64}: it exited with code 3/,
      );
      expect(sha(await readFile(out))).toBe(sha(original));
    } finally {
      await rm(cli, { recursive: true, force: true });
    }
  });
});

/** Runs the CLI's `script` (bin/edgeboot.js, or a copy of the bundle) as a child process. */
function runScript(script: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
