import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/edge/app.js";
import type { ObjectStorage } from "../../src/edge/storage/index.js";
import { r2Storage } from "../../src/edge/storage/r2.js";
import type { ResponseCache } from "../../src/edge/storage/response-cache.js";
import { EDGE_API } from "../../src/format/api.js";
import { sha256Hex } from "../../src/format/hex.js";
import {
  authorized,
  bytesOf,
  call,
  intercept,
  makeChunk,
  makeManifest,
  ORIGIN,
  problemOf,
  STORAGE_METHODS,
  storeImage,
  type TestChunk,
} from "./helpers.js";

type Method = keyof ObjectStorage;

/**
 * R2 that fails on chosen calls: `fail(method, n)` makes the n-th next call of `method` throw
 * (as R2 does on an internal error), or hang until the request gives up when `hang` is set.
 */
function faultyStorage(bucket: R2Bucket) {
  const plans: { method: Method; countdown: number; hang: boolean }[] = [];
  const storage = intercept(r2Storage(bucket), STORAGE_METHODS, async (method, args) => {
    for (const plan of plans) {
      if (plan.method === method && --plan.countdown === 0) {
        if (plan.hang) await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error(`injected R2 failure on ${method} ${String(args[0])}`);
      }
    }
  });
  const fail = (method: Method, nth = 1, hang = false) =>
    plans.push({ method, countdown: nth, hang });
  return { storage, fail };
}

/** A cache that never holds anything, so every read goes to storage. */
const noCache: ResponseCache = {
  match: async () => undefined,
  put: async () => {},
  delete: async () => false,
};

async function through(app: ReturnType<typeof createApp>, path: string, init?: RequestInit) {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${ORIGIN}${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("R2 failing under the edge", () => {
  it("answers a failed chunk upload with a 500 to retry, stores nothing, and the retry succeeds", async () => {
    const { storage, fail } = faultyStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage, cache: () => noCache });
    const chunk = await makeChunk(5000, 601);
    fail("put");
    const put = () =>
      through(app, EDGE_API.chunk.path(chunk.id), {
        method: "PUT",
        headers: authorized(),
        body: chunk.frame,
      });
    const failed = await put();
    expect(failed.status).toBe(500);
    expect((await problemOf(failed)).detail).toMatch(/retry later/);
    expect(await env.CHUNKS.head(`chunks/${chunk.id}`)).toBeNull();
    expect((await put()).status).toBe(201);
  });

  it("refuses a manifest when an existence check fails, and stores nothing", async () => {
    const chunks = [await makeChunk(4000, 602), await makeChunk(4000, 603)];
    for (const chunk of chunks) {
      await call(EDGE_API.chunk.path(chunk.id), {
        method: "PUT",
        headers: authorized(),
        body: chunk.frame,
      });
    }
    const made = await makeManifest(chunks);
    const { storage, fail } = faultyStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage, cache: () => noCache });
    fail("head", 2);
    const failed = await through(app, EDGE_API.manifest.path(made.id), {
      method: "PUT",
      headers: authorized(),
      body: made.bytes,
    });
    expect(failed.status).toBe(500);
    expect(await env.CHUNKS.head(`manifests/${made.id}`)).toBeNull();
  });

  it("leaves a ref where it was when the conditional write fails", async () => {
    const { id } = await storeImage([await makeChunk(3000, 604)]);
    const second = await storeImage([await makeChunk(3000, 605)]);
    await call(EDGE_API.ref.path("faulty"), {
      method: "PUT",
      headers: authorized({ "Content-Type": "application/json" }),
      body: JSON.stringify({ manifest: id, published: "2026-11-26T10:00:00.000Z" }),
    });
    const { storage, fail } = faultyStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage, cache: () => noCache });
    fail("put");
    const failed = await through(app, EDGE_API.ref.path("faulty"), {
      method: "PUT",
      headers: authorized({ "Content-Type": "application/json" }),
      body: JSON.stringify({ manifest: second.id, published: "2026-11-26T10:00:01.000Z" }),
    });
    expect(failed.status).toBe(500);
    const ref = (await (await call(EDGE_API.ref.path("faulty"))).json()) as { manifest: string };
    expect(ref.manifest).toBe(id);
  });

  it("cuts an image response short when R2 fails on a chunk mid-way: never a wrong or missing byte in its place", async () => {
    const chunks: TestChunk[] = [];
    for (let i = 0; i < 5; i++) chunks.push(await makeChunk(4096, 610 + i));
    const { id } = await storeImage(chunks, {
      chunking: { kind: "cdc", min: 1024, avg: 4096, max: 8192 },
    });
    const { storage, fail } = faultyStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage, cache: () => noCache });
    fail("get", 4);
    const response = await through(app, EDGE_API.manifestImage.path(id));
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const received: Uint8Array[] = [];
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received.push(value);
        }
      })(),
    ).rejects.toThrow();
    const got = new Uint8Array(received.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const part of received) {
      got.set(part, at);
      at += part.byteLength;
    }
    const image = new Uint8Array(5 * 4096);
    for (const [i, c] of chunks.entries()) image.set(c.raw, i * 4096);
    expect(got.byteLength).toBeLessThan(image.byteLength);
    expect(await sha256Hex(got)).toBe(await sha256Hex(image.subarray(0, got.byteLength)));
  });

  it("answers a chunk GET with a 500 when R2 fails, and the next GET is served", async () => {
    const chunk = await makeChunk(6000, 620);
    await call(EDGE_API.chunk.path(chunk.id), {
      method: "PUT",
      headers: authorized(),
      body: chunk.frame,
    });
    const { storage, fail } = faultyStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage, cache: () => noCache });
    fail("get", 1, true);
    expect((await through(app, EDGE_API.chunk.path(chunk.id))).status).toBe(500);
    const again = await through(app, EDGE_API.chunk.path(chunk.id));
    expect(again.status).toBe(200);
    expect(await bytesOf(again)).toEqual(chunk.frame);
  });
});
