import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { fractions, xorshift32 } from "../../testing/random.mjs";
import { authorized, call, makeChunk, moveRef, storeImage, type TestChunk } from "./helpers.js";

/** A small deterministic generator, so a failure names a request that can be replayed. */
function random(seed: number) {
  const next = fractions(xorshift32(seed));
  return <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
}

describe("hostile requests", () => {
  let chunk: TestChunk;
  let manifest: string;
  beforeAll(async () => {
    chunk = await makeChunk(10_000, 400);
    manifest = (await storeImage([chunk])).id;
    await moveRef("target", { manifest, published: "2026-11-26T09:00:00.000Z" });
  });

  it("answers 600 generated requests with a status below 500 and a problem for every error", async () => {
    const pick = random(20261126);
    const ids = () => [
      chunk.id,
      manifest,
      chunk.id.toUpperCase(),
      "0".repeat(63),
      "z".repeat(64),
      "",
    ];
    const paths = () => [
      ...ids().map((id) => `/v1/chunks/${id}`),
      ...ids().map((id) => `/v1/manifests/${id}`),
      ...ids().map((id) => `/v1/manifests/${id}/image`),
      ...ids().map((id) => `/v1/manifests/${id}/index.caibx`),
      ...ids().map((id) => `/v1/castr/${id.slice(0, 4)}/${id}.cacnk`),
      "/v1/rootfs/target/image",
      "/v1/rootfs/target/index.caibx",
      "/v1/rootfs/%2E%2E/image",
      "/v1/castr/../chunks",
      "/v1/rootfs/target",
      "/v1/rootfs/%2E%2E",
      "/v1/rootfs/a%00b",
      "/v1/rootfs/%ff",
      `/v1/rootfs/${"x".repeat(5000)}`,
      "/v1/chunks/missing",
      "/v1/rootfs",
      "/",
      "/v1/chunks/%",
      "/v1//chunks",
    ];
    const methods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"];
    const headerSets: Record<string, string>[] = [
      {},
      { Range: "bytes=0-" },
      { Range: "bytes=-" },
      { Range: "bytes=99999999999999999999-" },
      { Range: "bytes=0-1,2-3,4-5" },
      { Range: "bytes=0-1;q=0" },
      { "If-None-Match": "garbage" },
      { "If-None-Match": '"unterminated' },
      { "If-Match": "*" },
      { "If-Modified-Since": "not a date" },
      { "If-Range": 'W/"weak"', Range: "bytes=0-0" },
      { "Content-Length": "99999999999" },
      { Authorization: "Bearer" },
    ];
    const bodies: (string | Uint8Array | undefined)[] = [
      undefined,
      "",
      "{}",
      "null",
      '{"ids":null}',
      '{"manifest":1}',
      "\u00ff\u00fe",
      new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]),
      new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]),
      new Uint8Array(70_000).fill(0x41),
    ];
    const before = await env.CHUNKS.list();
    for (let i = 0; i < 600; i++) {
      const method = pick(methods);
      const path = pick(paths());
      const withAuth = pick([true, false]);
      const headers = { ...pick(headerSets), ...(withAuth ? authorized() : {}) };
      delete (headers as Record<string, string>)["Content-Length"];
      const body = method === "GET" || method === "HEAD" ? undefined : pick(bodies);
      const label = `#${i} ${method} ${path.slice(0, 80)} ${JSON.stringify(headers)}`;
      const response = await call(path, { method, headers, body });
      expect(response.status, label).toBeLessThan(500);
      if (response.status >= 400 && method !== "HEAD") {
        expect(response.headers.get("Content-Type"), label).toBe("application/problem+json");
        const problem = (await response.json()) as { detail: string };
        expect(problem.detail.length, label).toBeGreaterThan(0);
        expect(problem.detail, label).not.toMatch(/\n\s+at /);
      } else {
        await response.arrayBuffer();
      }
    }
    const after = await env.CHUNKS.list();
    const added = after.objects.filter((o) => !before.objects.some((b) => b.key === o.key));
    expect(added.map((o) => o.key)).toEqual([]);
  }, 120_000);
});
