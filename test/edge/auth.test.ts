import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import edge from "../../src/edge/index.js";
import { call, makeChunk, ORIGIN, problemOf, TEST_PUBLISH_TOKEN } from "./helpers.js";

const writes = (id: string): [string, string, BodyInit][] => [
  ["PUT", `/v1/chunks/${id}`, new Uint8Array([0x1f, 0x8b])],
  ["PUT", `/v1/manifests/${id}`, "{}"],
  ["POST", "/v1/chunks/missing", '{"ids":[]}'],
  ["PUT", "/v1/rootfs/debian", "{}"],
  ["DELETE", "/v1/rootfs/debian", ""],
  ["DELETE", `/v1/chunks/${id}`, ""],
  ["DELETE", `/v1/manifests/${id}`, ""],
  ["GET", "/v1/chunks", ""],
  ["GET", "/v1/manifests", ""],
];

describe("write authorization", () => {
  it.each([
    ["no Authorization header", undefined, /needs an Authorization: Bearer/],
    ["a wrong token", "Bearer wrong", /not the one/],
    [
      "a token of the right length",
      `Bearer ${"x".repeat(TEST_PUBLISH_TOKEN.length)}`,
      /not the one/,
    ],
    ["the token with a different prefix", `Bearer ${TEST_PUBLISH_TOKEN}x`, /not the one/],
    ["another scheme", `Basic ${btoa(`user:${TEST_PUBLISH_TOKEN}`)}`, /Bearer/],
  ])("refuses every write with %s (401), storing nothing", async (_, authorization, message) => {
    const chunk = await makeChunk(1000, 41);
    for (const [method, path, body] of writes(chunk.id)) {
      const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
      const response = await call(path, {
        method,
        headers,
        body: method === "DELETE" || method === "GET" ? undefined : body,
      });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="edgeboot"');
      expect((await problemOf(response)).detail).toMatch(message);
    }
    const listed = await env.CHUNKS.list();
    expect(listed.objects.filter((o) => o.key.includes(chunk.id))).toEqual([]);
  });

  it("refuses every write with 403 and says how to set a token when none is configured", async () => {
    const chunk = await makeChunk(1000, 42);
    const tokenless = { ...env, PUBLISH_TOKEN: undefined };
    for (const [method, path, body] of writes(chunk.id)) {
      const request = new Request(`${ORIGIN}${path}`, {
        method,
        headers: { Authorization: `Bearer ${TEST_PUBLISH_TOKEN}` },
        body: method === "DELETE" || method === "GET" ? undefined : body,
      });
      const response = await edge.fetch(request, tokenless, createExecutionContext());
      expect(response.status).toBe(403);
      expect((await problemOf(response)).detail).toMatch(/wrangler secret put PUBLISH_TOKEN/);
    }
    expect(await env.CHUNKS.head(`chunks/${chunk.id}`)).toBeNull();
  });

  it("accepts the scheme name in any case", async () => {
    const chunk = await makeChunk(1000, 43);
    const response = await call(`/v1/chunks/${chunk.id}`, {
      method: "PUT",
      headers: { Authorization: `bearer ${TEST_PUBLISH_TOKEN}` },
      body: chunk.frame,
    });
    expect(response.status).toBe(201);
  });

  it("leaves reads public", async () => {
    const response = await call("/v1/rootfs");
    expect(response.status).toBe(200);
  });
});
