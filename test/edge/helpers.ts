import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { expect } from "vitest";
import edge from "../../src/edge/index.js";
import type { ObjectStorage } from "../../src/edge/storage/index.js";
import { r2Storage } from "../../src/edge/storage/r2.js";
import { EDGE_API } from "../../src/format/api.js";
import type { BootFile, BootFiles } from "../../src/format/boot-files.js";
import { sha256Hex } from "../../src/format/hex.js";
import { encodeManifest, MANIFEST_VERSION, type Manifest } from "../../src/format/manifest.js";
import { concatBytes } from "../../src/lib/bytes.js";
import { lcg } from "../../testing/random.mjs";
import { TEST_PUBLISH_TOKEN } from "./token.js";

export { TEST_PUBLISH_TOKEN };

/** Origin of requests sent to the Worker under test. */
export const ORIGIN = "https://edge.test";

/**
 * Sends a request to the Worker under test: its real default export, in workerd, with the real R2
 * binding and Cache API. (Called directly rather than through `exports.default.fetch`, whose
 * per-call cost in vitest-pool-workers 0.15 grows with every request a test file makes.)
 */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return edge.fetch(new Request(`${ORIGIN}${path}`, init), env, createExecutionContext());
}

/** Something that answers a request as the Worker does: its default export, or an app of createApp. */
export interface EdgeHandler {
  fetch(
    request: Request,
    bindings: typeof env,
    ctx: ExecutionContext,
  ): Response | Promise<Response>;
}

/**
 * Sends a request to `handler` with `bindings`, reads the body whole, then waits for the work the
 * request left running (cache fills, deletes): the answer and its body.
 */
export async function sendTo(
  handler: EdgeHandler,
  path: string,
  init: RequestInit = {},
  bindings: typeof env = env,
): Promise<{ response: Response; body: Uint8Array }> {
  const ctx = createExecutionContext();
  const response = await handler.fetch(new Request(`${ORIGIN}${path}`, init), bindings, ctx);
  const body = new Uint8Array(await response.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { response, body };
}

/** Headers with the test publish token, plus `extra`. */
export function authorized(extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${TEST_PUBLISH_TOKEN}`, ...extra };
}

/** A test chunk: its raw bytes, its id and its gzip frame (mtime 0). */
export interface TestChunk {
  raw: Uint8Array;
  id: string;
  frame: Uint8Array;
}

/** Deterministic pseudo-random bytes, compressible enough to make a realistic frame. */
export function testBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  const next = lcg(seed * 2654435761);
  for (let i = 0; i < length; i++) out[i] = (next() >>> 24) & (i % 3 === 0 ? 0xff : 0x0f);
  return out;
}

/** Makes a chunk of `length` bytes from `seed`. */
export async function makeChunk(length: number, seed = 1): Promise<TestChunk> {
  const raw = testBytes(length, seed);
  return { raw, id: await sha256Hex(raw), frame: gzipSync(raw, { mtime: 0 }) };
}

/** Uploads a chunk's frame with the test token. */
export function uploadChunk(chunk: TestChunk): Promise<Response> {
  return call(EDGE_API.chunk.path(chunk.id), {
    method: "PUT",
    headers: authorized({ "Content-Type": "application/octet-stream" }),
    body: chunk.frame,
  });
}

/** The body of a response as bytes. */
export async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Checks a 206 answer to a single range: bytes `start` to `end` (inclusive) of `whole`, with the
 * Content-Range, Content-Length and Accept-Ranges a client needs.
 */
export async function expectPart(
  response: Response,
  whole: Uint8Array,
  start: number,
  end: number,
): Promise<void> {
  expect(response.status).toBe(206);
  expect(response.headers.get("Content-Range")).toBe(`bytes ${start}-${end}/${whole.byteLength}`);
  expect(response.headers.get("Content-Length")).toBe(String(end - start + 1));
  expect(response.headers.get("Accept-Ranges")).toBe("bytes");
  const part = await bytesOf(response);
  expect(await sha256Hex(part)).toBe(await sha256Hex(whole.subarray(start, end + 1)));
}

/** The problem+json body of an error response, checked to be one. */
export async function problemOf(
  response: Response,
): Promise<{ status: number; detail: string; title: string } & Record<string, unknown>> {
  if (response.headers.get("Content-Type") !== "application/problem+json") {
    throw new Error(
      `expected problem+json, got ${response.headers.get("Content-Type")}: ${await response.text()}`,
    );
  }
  return response.json();
}

/** A manifest over `chunks` (fixed chunking of the first chunk's length), its bytes and id. */
export async function makeManifest(chunks: TestChunk[], extra: Partial<Manifest> = {}) {
  const image = joined(chunks);
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    size: image.byteLength,
    sha256: await sha256Hex(image),
    chunking: { kind: "fixed", size: chunks[0]?.raw.byteLength ?? 1 },
    codec: "gzip",
    created: "2026-11-26T10:00:00.000Z",
    chunks: chunks.map((c) => c.id),
    lengths: chunks.map((c) => c.raw.byteLength),
    ...extra,
  };
  const bytes = encodeManifest(manifest);
  return { manifest, bytes, id: await sha256Hex(bytes) };
}

/** Uploads manifest bytes under `id` with the test token. */
export function uploadManifest(id: string, bytes: BodyInit): Promise<Response> {
  return call(EDGE_API.manifest.path(id), { method: "PUT", headers: authorized(), body: bytes });
}

/** Uploads chunks and their manifest, checking it to completion; returns the manifest id. */
export async function storeImage(chunks: TestChunk[], extra: Partial<Manifest> = {}) {
  for (const chunk of chunks) await uploadChunk(chunk);
  const made = await makeManifest(chunks, extra);
  let response = await uploadManifest(made.id, made.bytes);
  while (response.status === 202) {
    response = await call(EDGE_API.manifestCheck.path(made.id), {
      method: "POST",
      headers: authorized(),
    });
  }
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`manifest upload failed: ${response.status} ${await response.text()}`);
  }
  return made;
}

/** Moves ref `name` to `update` with the test token and optional extra headers. */
export function moveRef(name: string, update: unknown, headers: Record<string, string> = {}) {
  return call(EDGE_API.ref.path(name), {
    method: "PUT",
    headers: authorized({ "Content-Type": "application/json", ...headers }),
    body: JSON.stringify(update),
  });
}

/** Concatenates chunks' raw bytes. */
export function joined(chunks: TestChunk[]): Uint8Array {
  return concatBytes(chunks.map((chunk) => chunk.raw));
}

/** A boot file made of `chunks`, and its bytes. */
export async function makeBootFile(
  chunks: TestChunk[],
): Promise<{ file: BootFile; bytes: Uint8Array }> {
  const bytes = joined(chunks);
  return {
    bytes,
    file: {
      size: bytes.byteLength,
      sha256: await sha256Hex(bytes),
      chunk: Math.max(...chunks.map((c) => c.raw.byteLength)),
      chunks: chunks.map((c) => c.id),
      lengths: chunks.map((c) => c.raw.byteLength),
    },
  };
}

/**
 * Stores an image of `image` chunks carrying boot files (`kernel`, optional `initrd`, `cmdline`)
 * under the test chunking `cdc:1024/4096/8192`: every chunk, then the manifest.
 */
export async function storeBootableImage(
  image: TestChunk[],
  boot: { cmdline: string; kernel: TestChunk[]; initrd?: TestChunk[] },
) {
  for (const chunk of [...boot.kernel, ...(boot.initrd ?? [])]) await uploadChunk(chunk);
  const kernel = await makeBootFile(boot.kernel);
  const initrd = boot.initrd ? await makeBootFile(boot.initrd) : undefined;
  const files: BootFiles = { cmdline: boot.cmdline, kernel: kernel.file };
  if (initrd) files.initrd = initrd.file;
  const made = await storeImage(image, {
    chunking: { kind: "cdc", min: 1024, avg: 4096, max: 8192 },
    boot: files,
  });
  return { ...made, kernel: kernel.bytes, initrd: initrd?.bytes };
}

/**
 * `target` with its `methods` wrapped: each call first runs `before(method, args)`, to record the
 * call or to throw as a failing store does; a `before` that returns a promise holds the call until
 * it settles (and fails it if it rejects).
 */
export function intercept<T extends object, M extends keyof T & string>(
  target: T,
  methods: readonly M[],
  before: (method: M, args: unknown[]) => void | Promise<void>,
): T {
  const wrapped = { ...target };
  for (const method of methods) {
    const original = target[method] as (...args: unknown[]) => unknown;
    wrapped[method] = ((...args: unknown[]) => {
      const waiting = before(method, args);
      return waiting
        ? waiting.then(() => original.apply(target, args))
        : original.apply(target, args);
    }) as T[M];
  }
  return wrapped;
}

/** Every method of the edge's storage. */
export const STORAGE_METHODS = [
  "head",
  "get",
  "put",
  "delete",
  "list",
] as const satisfies (keyof ObjectStorage)[];

/** R2 storage that counts every call, so a test can tell whether a request touched R2. */
export function countingStorage(bucket: R2Bucket) {
  const calls: string[] = [];
  const storage = intercept(r2Storage(bucket), STORAGE_METHODS, (method, args) => {
    calls.push(`${method} ${args[0]}`);
  });
  return { storage, calls };
}
