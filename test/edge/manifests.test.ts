import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/format/hex.js";
import {
  bytesOf,
  call,
  makeChunk,
  makeManifest,
  problemOf,
  storeImage,
  uploadChunk,
  uploadManifest,
} from "./helpers.js";

async function expectNoManifest(id: string) {
  expect(await env.CHUNKS.head(`manifests/${id}`)).toBeNull();
}

describe("manifests", () => {
  it("stores a manifest whose chunks are all there and serves it immutable", async () => {
    const chunks = await Promise.all([1, 2, 3].map((s) => makeChunk(4096, 100 + s)));
    const { id, bytes } = await storeImage(chunks);
    const response = await call(`/v1/manifests/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("ETag")).toBe(`"${id}"`);
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    expect(await bytesOf(response)).toEqual(bytes);
    const again = await uploadManifest(id, bytes);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ stored: false, chunks: 3 });
  });

  it("serves ranges and conditionals of a manifest like any object", async () => {
    const { id, bytes } = await storeImage([await makeChunk(1000, 110)]);
    const range = await call(`/v1/manifests/${id}`, { headers: { Range: "bytes=0-9" } });
    expect(range.status).toBe(206);
    expect(await bytesOf(range)).toEqual(bytes.subarray(0, 10));
    const notModified = await call(`/v1/manifests/${id}`, {
      headers: { "If-None-Match": `"${id}"` },
    });
    expect(notModified.status).toBe(304);
  });

  it("refuses a manifest naming a missing chunk with 409 listing the missing ones", async () => {
    const present = await makeChunk(4096, 120);
    const absent = await makeChunk(4096, 121);
    await uploadChunk(present);
    const { id, bytes } = await makeManifest([present, absent]);
    const response = await uploadManifest(id, bytes);
    expect(response.status).toBe(409);
    const problem = await problemOf(response);
    expect(problem.missing).toEqual([absent.id]);
    expect(problem.detail).toMatch(/1 of the manifest's chunks/);
    await expectNoManifest(id);
  });

  it("refuses a manifest whose id is not its hash with 422", async () => {
    const { bytes } = await makeManifest([await makeChunk(100, 130)]);
    const wrongId = await sha256Hex(new TextEncoder().encode("something else"));
    const response = await uploadManifest(wrongId, bytes);
    expect(response.status).toBe(422);
    expect((await problemOf(response)).actual).toBe(await sha256Hex(bytes));
    await expectNoManifest(wrongId);
  });

  it("refuses invalid JSON with 400 and a schema violation with 422", async () => {
    const notJson = new TextEncoder().encode("{not json");
    const notJsonId = await sha256Hex(notJson);
    const badJson = await uploadManifest(notJsonId, notJson);
    expect(badJson.status).toBe(400);
    expect((await problemOf(badJson)).detail).toMatch(/JSON/);
    const schema = new TextEncoder().encode('{"format":"edgeboot-manifest","version":2}');
    const schemaId = await sha256Hex(schema);
    const badSchema = await uploadManifest(schemaId, schema);
    expect(badSchema.status).toBe(422);
    expect((await problemOf(badSchema)).detail).toMatch(/unsupported manifest version 2/);
    await expectNoManifest(notJsonId);
    await expectNoManifest(schemaId);
  });

  it("refuses a manifest that is valid but not canonical", async () => {
    const { bytes } = await makeManifest([await makeChunk(100, 140)]);
    const pretty = new TextEncoder().encode(
      JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 2),
    );
    const id = await sha256Hex(pretty);
    const response = await uploadManifest(id, pretty);
    expect(response.status).toBe(422);
    expect((await problemOf(response)).detail).toMatch(/canonical/);
    await expectNoManifest(id);
  });

  it("refuses a manifest over the size limit with 413", async () => {
    const id = "0".repeat(64);
    const response = await uploadManifest(id, new Uint8Array(25 * 1024 * 1024));
    expect(response.status).toBe(413);
    await problemOf(response);
    await expectNoManifest(id);
  });

  it("answers a malformed or unknown manifest id with 400 or 404", async () => {
    const upper = await call(`/v1/manifests/${"A".repeat(64)}`);
    expect(upper.status).toBe(400);
    await upper.arrayBuffer();
    const unknown = await call(`/v1/manifests/${"a".repeat(64)}`);
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
  });
});
