import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Decoder } from "@toondepauw/node-zstd";
import { afterAll, beforeAll, expect } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { decodeManifest, type Manifest } from "../../src/format/manifest.js";
import { sha256HexNative } from "../../src/lib/sha256-native.js";
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

/** Where `edgeboot publish` writes: an edge's URL (or a proxy's in front of it) and its token. */
export interface PublishTo {
  url: string;
  token: string;
}

/** Runs `edgeboot publish IMAGE --name NAME --edge URL ...extra` with the edge's token. */
export function runPublish(
  edge: PublishTo,
  image: string,
  name: string,
  ...extra: string[]
): Promise<CliRun> {
  return runCli(["publish", image, "--name", name, "--edge", edge.url, ...extra], {
    EDGEBOOT_TOKEN: edge.token,
  });
}

/** The manifest id a successful `edgeboot publish` printed. */
export function publishedManifest(run: CliRun): string {
  const id = /manifest\s+([0-9a-f]{64})/.exec(run.stdout)?.[1];
  if (!id) throw new Error(`no manifest id in: ${run.stdout}`);
  return id;
}

/**
 * Writes `bytes` as an image in `dir` (named after `name` and the bytes' hash) and publishes it as
 * `name` (runPublish), which must succeed; gives the image's path and the manifest id printed.
 */
export async function publishBytes(
  edge: PublishTo,
  dir: string,
  name: string,
  bytes: Uint8Array,
  ...extra: string[]
): Promise<{ image: string; manifest: string }> {
  const image = join(dir, `${name}-${sha256HexNative(bytes).slice(0, 8)}.img`);
  await writeFile(image, bytes);
  const run = await runPublish(edge, image, name, ...extra);
  expect(run.code, run.stderr).toBe(0);
  return { image, manifest: publishedManifest(run) };
}

/** Runs `edgeboot fetch EDGE NAME -o OUT --cache-dir CACHE ...extra`. */
export function runFetch(
  edge: string,
  name: string,
  out: string,
  cache: string,
  ...extra: string[]
): Promise<CliRun> {
  return runCli(["fetch", edge, name, "-o", out, "--cache-dir", cache, ...extra]);
}

/** The one line a failed run printed, checked to be exactly one `edgeboot:` line (exit code 1). */
export function oneErrorLine(result: { code: number | null; stderr: string }): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^edgeboot: /);
  return lines[0] as string;
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

/** The manifest the edge's ref for rootfs `name` names: its id, and the manifest decoded. */
export async function servedManifest(
  edge: string,
  name: string,
): Promise<{ id: string; manifest: Manifest }> {
  const ref = (await (await fetch(`${edge}${EDGE_API.ref.path(name)}`)).json()) as {
    manifest: string;
  };
  const answer = await fetch(`${edge}${EDGE_API.manifest.path(ref.manifest)}`);
  return { id: ref.manifest, manifest: decodeManifest(new Uint8Array(await answer.arrayBuffer())) };
}

/** Reads rootfs `name` back from the edge through the public API and reassembles the image. */
export async function readBack(edge: string, name: string): Promise<Buffer> {
  const { manifest } = await servedManifest(edge, name);
  const zstd = new Decoder();
  const parts: Buffer[] = [];
  for (const id of manifest.chunks) {
    const frame = Buffer.from(
      await (await fetch(`${edge}${EDGE_API.chunk.path(id)}`)).arrayBuffer(),
    );
    const raw = frame[0] === 0x1f ? gunzipSync(frame) : zstd.decodeSync(frame);
    if (sha256HexNative(raw) !== id) throw new Error(`chunk ${id} does not match its id`);
    parts.push(raw);
  }
  const image = Buffer.concat(parts);
  if (sha256HexNative(image) !== manifest.sha256) {
    throw new Error("reassembled image does not match the manifest's sha256");
  }
  return image;
}

/**
 * Makes a signing key pair with `edgeboot keygen KEY`, which must succeed: KEY, KEY.pub and what
 * keygen printed.
 */
export async function keygen(key: string): Promise<{ key: string; pub: string; stdout: string }> {
  const made = await runCli(["keygen", key]);
  expect(made.code, made.stderr).toBe(0);
  return { key, pub: `${key}.pub`, stdout: made.stdout };
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
