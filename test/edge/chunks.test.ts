import { env } from "cloudflare:workers";
import { Gzip, gzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { sha256Hex } from "../../src/format/hex.js";
import { MAX_FRAME_BYTES, MAX_MISSING_QUERY_IDS } from "../../src/format/limits.js";
import { SAMPLE_SHA256, sample, WITH_FCS_B64 } from "../fixtures/zstd-vectors.js";
import {
  authorized,
  bytesOf,
  call,
  expectPart,
  makeChunk,
  problemOf,
  type TestChunk,
  testBytes,
  uploadChunk,
} from "./helpers.js";

const IMMUTABLE = "public, max-age=31536000, immutable";

function putFrame(id: string, body: BodyInit, headers: Record<string, string> = {}) {
  return call(`/v1/chunks/${id}`, { method: "PUT", headers: authorized(headers), body });
}

async function expectNothingStored(id: string) {
  expect(await env.CHUNKS.head(`chunks/${id}`)).toBeNull();
}

describe("GET and HEAD /v1/chunks/:id", () => {
  let chunk: TestChunk;
  beforeAll(async () => {
    chunk = await makeChunk(200_000, 7);
    expect((await uploadChunk(chunk)).status).toBe(201);
  });

  it("serves the stored frame byte for byte, immutable, with a strong ETag", async () => {
    const response = await call(`/v1/chunks/${chunk.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(response.headers.get("Content-Encoding")).toBeNull();
    expect(response.headers.get("Cache-Control")).toBe(IMMUTABLE);
    expect(response.headers.get("ETag")).toBe(`"${chunk.id}"`);
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    expect(response.headers.get("Content-Length")).toBe(String(chunk.frame.byteLength));
    expect(response.headers.get("Last-Modified")).toMatch(/GMT$/);
    expect(await bytesOf(response)).toEqual(chunk.frame);
  });

  it("keeps every header block under 1 KiB, as httpfs2 needs", async () => {
    const requests: RequestInit[] = [
      {},
      { method: "HEAD" },
      { headers: { Range: "bytes=1-2" } },
      { headers: { Range: "bytes=99999999-" } },
      { headers: { "If-None-Match": `"${chunk.id}"` } },
    ];
    for (const init of requests) {
      const response = await call(`/v1/chunks/${chunk.id}`, init);
      let size = "HTTP/1.1 206 Partial Content\r\n".length + 2;
      for (const [name, value] of response.headers) size += name.length + value.length + 4;
      expect(size, JSON.stringify(init)).toBeLessThan(1024);
      await response.arrayBuffer();
    }
  });

  it("answers If-Modified-Since with 304 when not modified since", async () => {
    const future = new Date(Date.now() + 86_400_000).toUTCString();
    const response = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-Modified-Since": future },
    });
    expect(response.status).toBe(304);
    const past = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT" },
    });
    expect(past.status).toBe(200);
    await past.arrayBuffer();
  });

  it("answers HEAD with the length and no body", async () => {
    const response = await call(`/v1/chunks/${chunk.id}`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe(String(chunk.frame.byteLength));
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    expect(response.headers.get("ETag")).toBe(`"${chunk.id}"`);
    expect((await bytesOf(response)).byteLength).toBe(0);
  });

  const size = () => chunk.frame.byteLength;
  it.each([
    ["bytes=0-0", (): [number, number] => [0, 0]],
    ["bytes=0-99", () => [0, 99]],
    ["bytes=100-", () => [100, size() - 1]],
    ["bytes=-100", () => [size() - 100, size() - 1]],
    ["bytes=-1", () => [size() - 1, size() - 1]],
    ["last byte exactly", () => [size() - 1, size() - 1]],
    ["end one past the last byte (nbdkit)", () => [size() - 10, size() - 1]],
    ["end far past the last byte", () => [5, size() - 1]],
    ["suffix longer than the frame", () => [0, size() - 1]],
  ] as const)("answers %s with 206 and the right bytes", async (label, expected) => {
    const headerFor: Record<string, () => string> = {
      "last byte exactly": () => `bytes=${size() - 1}-${size() - 1}`,
      "end one past the last byte (nbdkit)": () => `bytes=${size() - 10}-${size()}`,
      "end far past the last byte": () => `bytes=5-${size() * 10}`,
      "suffix longer than the frame": () => `bytes=-${size() + 1000}`,
    };
    const header = headerFor[label]?.() ?? label;
    const [start, end] = expected() as [number, number];
    const response = await call(`/v1/chunks/${chunk.id}`, { headers: { Range: header } });
    await expectPart(response, chunk.frame, start, end);
  });

  it.each(["bytes=", "bytes=5-2", "bytes=-0", "bytes=abc", "items=0-1", "bytes=1-2-3"])(
    "answers the malformed Range %s with 416 and bytes */size",
    async (header) => {
      const response = await call(`/v1/chunks/${chunk.id}`, { headers: { Range: header } });
      expect(response.status).toBe(416);
      expect(response.headers.get("Content-Range")).toBe(`bytes */${size()}`);
      expect((await problemOf(response)).detail.length).toBeGreaterThan(10);
    },
  );

  it("answers a range starting past the end with 416", async () => {
    for (const start of [size(), size() + 1, size() * 2]) {
      const response = await call(`/v1/chunks/${chunk.id}`, {
        headers: { Range: `bytes=${start}-` },
      });
      expect(response.status).toBe(416);
      expect(response.headers.get("Content-Range")).toBe(`bytes */${size()}`);
      await response.arrayBuffer();
    }
  });

  it("answers several ranges with the whole frame, never a wrong single part", async () => {
    const response = await call(`/v1/chunks/${chunk.id}`, {
      headers: { Range: "bytes=0-9, 100-199" },
    });
    expect(response.status).toBe(200);
    expect(await bytesOf(response)).toEqual(chunk.frame);
    const oneLeft = await call(`/v1/chunks/${chunk.id}`, {
      headers: { Range: `bytes=10-19, ${size() + 5}-` },
    });
    expect(oneLeft.status).toBe(206);
    expect(await bytesOf(oneLeft)).toEqual(chunk.frame.subarray(10, 20));
  });

  it("ignores Range on HEAD, as RFC 9110 says", async () => {
    const response = await call(`/v1/chunks/${chunk.id}`, {
      method: "HEAD",
      headers: { Range: "bytes=0-9" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe(String(size()));
  });

  it("answers If-None-Match with 304 when the tag matches, 200 otherwise", async () => {
    for (const tag of [`"${chunk.id}"`, `W/"${chunk.id}"`, `"x", "${chunk.id}"`, "*"]) {
      const response = await call(`/v1/chunks/${chunk.id}`, { headers: { "If-None-Match": tag } });
      expect(response.status, tag).toBe(304);
      expect(response.headers.get("ETag")).toBe(`"${chunk.id}"`);
      expect((await bytesOf(response)).byteLength).toBe(0);
    }
    const other = await call(`/v1/chunks/${chunk.id}`, { headers: { "If-None-Match": '"other"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it("answers a failed If-Match or If-Unmodified-Since with 412", async () => {
    const ifMatch = await call(`/v1/chunks/${chunk.id}`, { headers: { "If-Match": '"other"' } });
    expect(ifMatch.status).toBe(412);
    await problemOf(ifMatch);
    const weak = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-Match": `W/"${chunk.id}"` },
    });
    expect(weak.status).toBe(412);
    await weak.arrayBuffer();
    const old = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT" },
    });
    expect(old.status).toBe(412);
    await old.arrayBuffer();
    const matching = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-Match": `"${chunk.id}"` },
    });
    expect(matching.status).toBe(200);
    await matching.arrayBuffer();
  });

  it("applies If-Range only while the validator is current", async () => {
    const current = await call(`/v1/chunks/${chunk.id}`, {
      headers: { Range: "bytes=0-9", "If-Range": `"${chunk.id}"` },
    });
    expect(current.status).toBe(206);
    expect(await bytesOf(current)).toEqual(chunk.frame.subarray(0, 10));
    const stale = await call(`/v1/chunks/${chunk.id}`, {
      headers: { Range: "bytes=0-9", "If-Range": '"stale"' },
    });
    expect(stale.status).toBe(200);
    expect(await bytesOf(stale)).toEqual(chunk.frame);
    const staleDate = await call(`/v1/chunks/${chunk.id}`, {
      headers: { Range: "bytes=0-9", "If-Range": "Sat, 01 Jan 2000 00:00:00 GMT" },
    });
    expect(staleDate.status).toBe(200);
    await staleDate.arrayBuffer();
  });

  it("answers an ETag without quotes with 400", async () => {
    const response = await call(`/v1/chunks/${chunk.id}`, {
      headers: { "If-None-Match": chunk.id },
    });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).detail).toMatch(/quoted/);
  });

  it("answers a chunk that is not stored with a 404 problem", async () => {
    const id = await sha256Hex(testBytes(10, 999));
    for (const method of ["GET", "HEAD"]) {
      const response = await call(`/v1/chunks/${id}`, { method });
      expect(response.status).toBe(404);
      await response.arrayBuffer();
    }
  });

  it.each([
    ["upper case", (id: string) => id.toUpperCase(), /lowercase/],
    ["63 digits", (id: string) => id.slice(1), /64 hex digits/],
    ["65 digits", (id: string) => `${id}0`, /64 hex digits/],
    ["non-hex", (id: string) => `${id.slice(1)}g`, /hex digits/],
  ])("answers a malformed id (%s) with 400 naming the problem", async (_, mangle, message) => {
    const response = await call(`/v1/chunks/${mangle(chunk.id)}`);
    expect(response.status).toBe(400);
    expect((await problemOf(response)).detail).toMatch(message);
  });
});

describe("PUT /v1/chunks/:id", () => {
  it("stores a verified gzip frame once; a second upload leaves it as it is", async () => {
    const chunk = await makeChunk(65_536, 11);
    const first = await uploadChunk(chunk);
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ id: chunk.id, stored: true });
    const second = await uploadChunk(chunk);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ stored: false });
    const stored = await env.CHUNKS.get(`chunks/${chunk.id}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(chunk.frame);
  });

  it("never replaces a stored frame with another encoding of the same bytes", async () => {
    const chunk = await makeChunk(50_000, 12);
    expect((await uploadChunk(chunk)).status).toBe(201);
    const otherLevel = gzipSync(chunk.raw, { level: 1, mtime: 0 });
    const response = await putFrame(chunk.id, otherLevel);
    expect(response.status).toBe(200);
    const stored = await env.CHUNKS.get(`chunks/${chunk.id}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(chunk.frame);
  });

  it("refuses a frame whose bytes hash to another id, storing nothing", async () => {
    const chunk = await makeChunk(10_000, 13);
    const other = await makeChunk(10_000, 14);
    const response = await putFrame(other.id, chunk.frame);
    expect(response.status).toBe(422);
    const problem = await problemOf(response);
    expect(problem.detail).toContain(chunk.id);
    expect(problem.actual).toBe(chunk.id);
    await expectNothingStored(other.id);
  });

  it("refuses a truncated gzip frame", async () => {
    const chunk = await makeChunk(100_000, 15);
    for (const cut of [2, 10, Math.floor(chunk.frame.byteLength / 2), chunk.frame.byteLength - 1]) {
      const response = await putFrame(chunk.id, chunk.frame.subarray(0, cut));
      expect(response.status, `cut at ${cut}`).toBe(422);
      await problemOf(response);
    }
    await expectNothingStored(chunk.id);
  });

  it("stores a verified zstd frame", async () => {
    const id = SAMPLE_SHA256;
    expect(id).toBe(await sha256Hex(sample(5000)));
    const frame = fromBase64(WITH_FCS_B64);
    const response = await putFrame(id, frame);
    expect(response.status).toBe(201);
    const served = await call(`/v1/chunks/${id}`);
    expect(await bytesOf(served)).toEqual(frame);
  });

  it("refuses a crafted zstd frame whose sequences would spin the decoder", async () => {
    const id = await sha256Hex(testBytes(1, 23));
    const frame = fromBase64("KLUv/QA4TQAAAP///1QAAjQB");
    const response = await putFrame(id, frame);
    expect(response.status).toBe(422);
    expect((await problemOf(response)).detail).toMatch(/zstd frame rejected/);
    await expectNothingStored(id);
  });

  it("refuses trailing bytes and a second gzip member", async () => {
    const chunk = await makeChunk(5000, 20);
    const trailing = new Uint8Array([...chunk.frame, 0, 0, 0]);
    const twice = new Uint8Array([...chunk.frame, ...chunk.frame]);
    for (const body of [trailing, twice]) {
      const response = await putFrame(chunk.id, body);
      expect(response.status).toBe(422);
      expect((await problemOf(response)).detail).toMatch(/gzip frame rejected/);
    }
    await expectNothingStored(chunk.id);
  });

  it("refuses raw bytes that are no compressed frame", async () => {
    const chunk = await makeChunk(1000, 16);
    const response = await putFrame(chunk.id, chunk.raw);
    expect(response.status).toBe(422);
    expect((await problemOf(response)).detail).toMatch(/gzip|zstd/);
    await expectNothingStored(chunk.id);
  });

  it("refuses a zip bomb without inflating it", async () => {
    const zeros = new Uint8Array(1024 * 1024);
    const parts: Uint8Array[] = [];
    const gzip = new Gzip({ level: 9, mtime: 0 }, (data) => parts.push(data));
    for (let i = 0; i < 64; i++) gzip.push(zeros);
    gzip.push(new Uint8Array(0), true);
    const bomb = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const part of parts) {
      bomb.set(part, at);
      at += part.byteLength;
    }
    expect(bomb.byteLength).toBeLessThan(1_000_000);
    const id = await sha256Hex(testBytes(1, 17));
    const response = await putFrame(id, bomb);
    expect(response.status).toBe(422);
    expect((await problemOf(response)).detail).toMatch(/limit|more than/);
    await expectNothingStored(id);
  });

  it("refuses a body over the frame limit with 413, by Content-Length or by size", async () => {
    const id = await sha256Hex(testBytes(1, 18));
    const tooBig = new Uint8Array(MAX_FRAME_BYTES + 1);
    tooBig.set([0x1f, 0x8b]);
    const response = await putFrame(id, tooBig);
    expect(response.status).toBe(413);
    expect((await problemOf(response)).detail).toContain(String(MAX_FRAME_BYTES));
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 9; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const chunked = await putFrame(id, streamed);
    expect(chunked.status).toBe(413);
    await chunked.arrayBuffer();
    await expectNothingStored(id);
  });

  it("refuses an empty body and a malformed id", async () => {
    const chunk = await makeChunk(100, 19);
    const empty = await putFrame(chunk.id, new Uint8Array(0));
    expect(empty.status).toBe(400);
    await empty.arrayBuffer();
    const upper = await putFrame(chunk.id.toUpperCase(), chunk.frame);
    expect(upper.status).toBe(400);
    expect((await problemOf(upper)).detail).toMatch(/lowercase/);
    await expectNothingStored(chunk.id);
  });
});

describe("POST /v1/chunks/missing", () => {
  it("lists the ids the store lacks, in the order asked, for as many ids as the budget allows", async () => {
    const present = await makeChunk(1000, 21);
    await uploadChunk(present);
    const absent = await Promise.all(
      Array.from({ length: 49 }, (_, i) => sha256Hex(new TextEncoder().encode(`absent ${i}`))),
    );
    const ids = [absent[0], present.id, ...absent.slice(1)];
    const response = await call("/v1/chunks/missing", {
      method: "POST",
      headers: authorized({ "Content-Type": "application/json" }),
      body: JSON.stringify({ ids }),
    });
    expect(response.status).toBe(200);
    const { missing } = (await response.json()) as { missing: string[] };
    expect(missing).toEqual(absent);
  });

  it("refuses bad bodies with 400 naming the problem", async () => {
    const cases: [string, RegExp][] = [
      ["not json", /JSON/],
      ['{"ids": "abc"}', /ids/],
      ['{"ids": ["ABC"]}', /ids\[0\]/],
    ];
    for (const [body, message] of cases) {
      const response = await call("/v1/chunks/missing", {
        method: "POST",
        headers: authorized(),
        body,
      });
      expect(response.status).toBe(400);
      expect((await problemOf(response)).detail).toMatch(message);
    }
  });

  it("refuses more ids than one request may check with 413 naming the cap", async () => {
    for (const count of [51, MAX_MISSING_QUERY_IDS + 1]) {
      const response = await call("/v1/chunks/missing", {
        method: "POST",
        headers: authorized(),
        body: JSON.stringify({ ids: Array(count).fill("0".repeat(64)) }),
      });
      expect(response.status).toBe(413);
      const problem = await problemOf(response);
      expect(problem.limit).toBe(50);
      expect(problem.detail).toMatch(/at most 50 ids per request.*limits\.missingIdsPerRequest/);
    }
  });
});
