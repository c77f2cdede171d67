import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/edge/app.js";
import { r2Storage } from "../../src/edge/storage/r2.js";
import { EDGE_API } from "../../src/format/api.js";
import { countingStorage, makeChunk, sendTo, uploadChunk } from "./helpers.js";

describe("the Cache API in front of R2", () => {
  it("serves a second GET of a chunk without any R2 call", async () => {
    const chunk = await makeChunk(100_000, 31);
    await uploadChunk(chunk);
    const { storage, calls } = countingStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage });
    const first = await sendTo(app, EDGE_API.chunk.path(chunk.id));
    expect(first.response.headers.get("Cache-Status")).toMatch(/fwd=miss/);
    expect(first.body).toEqual(chunk.frame);
    expect(calls).toEqual([`get chunks/${chunk.id}`]);
    calls.length = 0;
    const second = await sendTo(app, EDGE_API.chunk.path(chunk.id));
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get("Cache-Status")).toBe("edgeboot; hit");
    expect(second.body).toEqual(chunk.frame);
    const range = await sendTo(app, EDGE_API.chunk.path(chunk.id), {
      headers: { Range: "bytes=5-14" },
    });
    expect(range.response.status).toBe(206);
    expect(range.body).toEqual(chunk.frame.subarray(5, 15));
    const head = await sendTo(app, EDGE_API.chunk.path(chunk.id), { method: "HEAD" });
    expect(head.response.headers.get("Content-Length")).toBe(String(chunk.frame.byteLength));
    expect(calls).toEqual([]);
  });

  it("keeps serving a warm chunk after the object behind it is deleted", async () => {
    const chunk = await makeChunk(20_000, 32);
    await uploadChunk(chunk);
    const app = createApp({ storage: (e) => r2Storage(e.CHUNKS) });
    await sendTo(app, EDGE_API.chunk.path(chunk.id));
    await env.CHUNKS.delete(`chunks/${chunk.id}`);
    const again = await sendTo(app, EDGE_API.chunk.path(chunk.id));
    expect(again.response.status).toBe(200);
    expect(again.body).toEqual(chunk.frame);
  });

  it("answers a Range miss from R2 and fills the cache with the full object", async () => {
    const chunk = await makeChunk(50_000, 33);
    await uploadChunk(chunk);
    const { storage, calls } = countingStorage(env.CHUNKS);
    const app = createApp({ storage: () => storage });
    const range = await sendTo(app, EDGE_API.chunk.path(chunk.id), {
      headers: { Range: "bytes=-16" },
    });
    expect(range.response.status).toBe(206);
    expect(range.body).toEqual(chunk.frame.subarray(-16));
    calls.length = 0;
    const full = await sendTo(app, EDGE_API.chunk.path(chunk.id));
    expect(full.response.headers.get("Cache-Status")).toBe("edgeboot; hit");
    expect(full.body).toEqual(chunk.frame);
    expect(calls).toEqual([]);
  });
});
