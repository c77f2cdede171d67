import { describe, expect, it } from "vitest";
import edge from "../../src/edge/index.js";
import { authorized, call, makeChunk, sendTo, storeImage, uploadChunk } from "./helpers.js";

describe("listings and deletes for garbage collection", () => {
  it("lists chunks and manifests with their size and upload time, for the token only", async () => {
    const chunk = await makeChunk(4000, 501);
    const { id } = await storeImage([chunk]);
    expect((await call("/v1/chunks")).status).toBe(401);
    const chunks = (await (await call("/v1/chunks", { headers: authorized() })).json()) as {
      objects: { id: string; size: number; uploaded: string }[];
    };
    const listed = chunks.objects.find((o) => o.id === chunk.id);
    expect(listed?.size).toBe(chunk.frame.byteLength);
    expect(Date.parse(listed?.uploaded ?? "")).toBeGreaterThan(0);
    const manifests = (await (await call("/v1/manifests", { headers: authorized() })).json()) as {
      objects: { id: string }[];
    };
    expect(manifests.objects.map((o) => o.id)).toContain(id);
    expect(
      (await call(`/v1/chunks?cursor=${"x".repeat(2000)}`, { headers: authorized() })).status,
    ).toBe(400);
  });

  it("deletes a chunk and its cached copy: the next GET is 404, not a stale hit", async () => {
    const chunk = await makeChunk(3000, 502);
    await uploadChunk(chunk);
    await sendTo(edge, `/v1/chunks/${chunk.id}`);
    expect((await call(`/v1/chunks/${chunk.id}`)).headers.get("Cache-Status")).toMatch(/hit/);
    expect((await call(`/v1/chunks/${chunk.id}`, { method: "DELETE" })).status).toBe(401);
    expect(
      (await call(`/v1/chunks/${chunk.id}`, { method: "DELETE", headers: authorized() })).status,
    ).toBe(204);
    expect((await call(`/v1/chunks/${chunk.id}`)).status).toBe(404);
    expect(
      (await call(`/v1/chunks/${chunk.id}`, { method: "DELETE", headers: authorized() })).status,
    ).toBe(404);
    expect(
      (await call("/v1/chunks/nothex", { method: "DELETE", headers: authorized() })).status,
    ).toBe(400);
  });
});
