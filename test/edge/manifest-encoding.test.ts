import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/edge/app.js";
import edge from "../../src/edge/index.js";
import { EDGE_API } from "../../src/format/api.js";
import { countingStorage, makeChunk, sendTo, storeImage, uploadChunk } from "./helpers.js";

const GZIP = { "Accept-Encoding": "gzip, deflate, br" };

/**
 * A manifest GET that accepts gzip is answered `Content-Encoding: gzip` (workerd compresses the
 * body when it sends it over HTTP: test/client/manifest-encoding.test.ts sees it on the wire; here,
 * in-process, the body is still the identity bytes), with a weak ETag and Vary: Accept-Encoding.
 */
describe("manifests gzip-encoded when the request accepts it", () => {
  it("encodes a whole GET, from storage and from the cache alike, and keeps the cache's copy identity", async () => {
    const { id, bytes } = await storeImage([
      await makeChunk(4096, 901),
      await makeChunk(4096, 902),
    ]);
    const { storage, calls } = countingStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage });
    const path = EDGE_API.manifest.path(id);
    for (const status of [/fwd=miss/, /hit/]) {
      const { response, body } = await sendTo(app, path, { headers: GZIP });
      expect(response.status).toBe(200);
      expect(response.headers.get("Cache-Status")).toMatch(status);
      expect(response.headers.get("Content-Encoding")).toBe("gzip");
      expect(response.headers.get("Content-Length")).toBeNull();
      expect(response.headers.get("Vary")).toBe("Accept-Encoding");
      expect(response.headers.get("ETag")).toBe(`W/"${id}"`);
      expect(body).toEqual(bytes);
    }
    const identity = await sendTo(app, path);
    expect(identity.response.headers.get("Cache-Status")).toBe("edgeboot; hit");
    expect(identity.response.headers.get("Content-Encoding")).toBeNull();
    expect(identity.response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expect(identity.response.headers.get("Vary")).toBe("Accept-Encoding");
    expect(identity.response.headers.get("ETag")).toBe(`"${id}"`);
    expect(identity.body).toEqual(bytes);
    expect(calls).toEqual([`get manifests/${id}`]);
  });

  it("answers a client that does not accept gzip, a Range and a HEAD with the identity bytes", async () => {
    const { id, bytes } = await storeImage([await makeChunk(2048, 903)]);
    const path = EDGE_API.manifest.path(id);
    const app = edge;
    for (const refusal of ["gzip;q=0", "identity", "br", "gzip;q=0.5, identity;q=1", "*;q=0"]) {
      const { response, body } = await sendTo(app, path, {
        headers: { "Accept-Encoding": refusal },
      });
      expect(response.headers.get("Content-Encoding"), refusal).toBeNull();
      expect(response.headers.get("ETag")).toBe(`"${id}"`);
      expect(body).toEqual(bytes);
    }
    const range = await sendTo(app, path, { headers: { ...GZIP, Range: "bytes=0-9" } });
    expect(range.response.status).toBe(206);
    expect(range.response.headers.get("Content-Encoding")).toBeNull();
    expect(range.response.headers.get("ETag")).toBe(`"${id}"`);
    expect(range.body).toEqual(bytes.subarray(0, 10));
    const head = await sendTo(app, path, { method: "HEAD", headers: GZIP });
    expect(head.response.headers.get("Content-Encoding")).toBeNull();
    expect(head.response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  });

  it("gives 304 to If-None-Match with either tag, in either coding, and 412 to If-Match on the weak one", async () => {
    const { id } = await storeImage([await makeChunk(2048, 904)]);
    const path = EDGE_API.manifest.path(id);
    const app = edge;
    for (const tag of [`"${id}"`, `W/"${id}"`]) {
      const gzip = await sendTo(app, path, { headers: { ...GZIP, "If-None-Match": tag } });
      expect(gzip.response.status, tag).toBe(304);
      expect(gzip.response.headers.get("ETag")).toBe(`W/"${id}"`);
      expect(gzip.response.headers.get("Content-Encoding")).toBeNull();
      expect(gzip.response.headers.get("Vary")).toBe("Accept-Encoding");
      const identity = await sendTo(app, path, { headers: { "If-None-Match": tag } });
      expect(identity.response.status, tag).toBe(304);
      expect(identity.response.headers.get("ETag")).toBe(`"${id}"`);
    }
    const other = await sendTo(app, path, { headers: { ...GZIP, "If-None-Match": '"other"' } });
    expect(other.response.status).toBe(200);
    const strong = await sendTo(app, path, { headers: { ...GZIP, "If-Match": `"${id}"` } });
    expect(strong.response.status).toBe(412);
    const identity = await sendTo(app, path, { headers: { "If-Match": `"${id}"` } });
    expect(identity.response.status).toBe(200);
  });

  it("never encodes a chunk: its frame is compressed already", async () => {
    const chunk = await makeChunk(4096, 905);
    await uploadChunk(chunk);
    const { response, body } = await sendTo(edge, EDGE_API.chunk.path(chunk.id), {
      headers: GZIP,
    });
    expect(response.headers.get("Content-Encoding")).toBeNull();
    expect(response.headers.get("Vary")).toBeNull();
    expect(response.headers.get("ETag")).toBe(`"${chunk.id}"`);
    expect(body).toEqual(chunk.frame);
  });
});
