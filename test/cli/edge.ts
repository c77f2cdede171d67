import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Decoder } from "@toondepauw/node-zstd";
import { afterAll, beforeAll } from "vitest";
import { decodeManifest } from "../../src/format/manifest.js";
import { xorshift32 } from "../../testing/random.mjs";
import { type LocalEdge, startEdgeWorker } from "../../testing/workers.mjs";

/** A real edge Worker in workerd (Miniflare), on a loopback port, with a fresh local R2 bucket. */
export type TestEdge = LocalEdge;

/** Starts the Worker bundle built by global-setup.ts, with `vars` (e.g. REQUEST_OPERATION_BUDGET). */
export function startEdge(
  token = "e2e-token-0123456789",
  vars: Record<string, string> = {},
): Promise<TestEdge> {
  return startEdgeWorker("dist/test-worker/edge.js", { token, vars });
}

/** The outcome of one CLI run. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/edgeboot.js` with `args` as a child process. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/edgeboot.js", ...args], {
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

/** A temporary directory, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "edgeboot-test-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic image bytes: text-like runs and noise, so chunks compress like real files. */
export function imageBytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  const next = xorshift32(seed * 0x9e3779b1 || 1);
  for (let i = 0; i < size; i++) {
    const x = next();
    out[i] = (x & 0x300) === 0 ? x & 0xff : 97 + ((x >>> 8) & 15);
  }
  return out;
}

/** Reads rootfs `name` back from the edge through the public API and reassembles the image. */
export async function readBack(edge: string, name: string): Promise<Buffer> {
  const ref = (await (await fetch(`${edge}/v1/rootfs/${name}`)).json()) as { manifest: string };
  const manifestBytes = new Uint8Array(
    await (await fetch(`${edge}/v1/manifests/${ref.manifest}`)).arrayBuffer(),
  );
  const manifest = decodeManifest(manifestBytes);
  const zstd = new Decoder();
  const parts: Buffer[] = [];
  for (const id of manifest.chunks) {
    const frame = Buffer.from(await (await fetch(`${edge}/v1/chunks/${id}`)).arrayBuffer());
    const raw = frame[0] === 0x1f ? gunzipSync(frame) : zstd.decodeSync(frame);
    if (createHash("sha256").update(raw).digest("hex") !== id)
      throw new Error(`chunk ${id} does not match its id`);
    parts.push(raw);
  }
  const image = Buffer.concat(parts);
  if (createHash("sha256").update(image).digest("hex") !== manifest.sha256) {
    throw new Error("reassembled image does not match the manifest's sha256");
  }
  return image;
}

/** A running edge and a scratch directory, both for every test of the calling file. */
export interface EdgeFixture {
  edge: TestEdge;
  dir: string;
}

/** Starts an edge and makes a scratch directory before the file's tests; stops and removes both after. */
export function useEdgeAndDir(): EdgeFixture {
  const fixture = {} as EdgeFixture;
  let removeDir: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    fixture.edge = await startEdge();
    const temp = await tempDir();
    fixture.dir = temp.dir;
    removeDir = temp.remove;
  });
  afterAll(async () => {
    await fixture.edge?.close();
    await removeDir?.();
  });
  return fixture;
}
