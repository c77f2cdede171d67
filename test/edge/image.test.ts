import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import edge from "../../src/edge/index.js";
import { fromBase64 } from "../../src/format/base64.js";
import { sha256Hex } from "../../src/format/hex.js";
import { NO_FCS_B64, sample } from "../fixtures/zstd-vectors.js";
import {
  bytesOf,
  call,
  expectPart,
  makeChunk,
  moveRef,
  problemOf,
  storeImage,
  type TestChunk,
  uploadChunk,
} from "./helpers.js";

const zstdChunk = async (): Promise<TestChunk> => {
  const raw = sample(5000);
  return { raw, id: await sha256Hex(raw), frame: fromBase64(NO_FCS_B64) };
};

/** A stored image of four chunks (gzip and zstd, lengths 3000, 3000, 5000, 1234): 12234 bytes. */
async function storedImage() {
  const chunks = [
    await makeChunk(3000, 1),
    await makeChunk(3000, 2),
    await zstdChunk(),
    await makeChunk(1234, 3),
  ];
  const made = await storeImage(chunks, {
    chunking: { kind: "cdc", min: 1024, avg: 4096, max: 8192 },
  });
  const image = new Uint8Array(made.manifest.size);
  let at = 0;
  for (const chunk of chunks) {
    image.set(chunk.raw, at);
    at += chunk.raw.byteLength;
  }
  return { ...made, chunks, image };
}

async function hex(bytes: Uint8Array): Promise<string> {
  return sha256Hex(bytes);
}

describe("GET /v1/manifests/:id/image", () => {
  it("assembles the whole image from gzip and zstd chunks, immutable, with every header clients need", async () => {
    const { id, image } = await storedImage();
    const response = await call(`/v1/manifests/${id}/image`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe(String(image.byteLength));
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    expect(response.headers.get("ETag")).toBe(`"${id}"`);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(await hex(await bytesOf(response))).toBe(await hex(image));

    const head = await call(`/v1/manifests/${id}/image`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe(String(image.byteLength));
    expect((await bytesOf(head)).byteLength).toBe(0);
  });

  it.each([
    ["first byte", "bytes=0-0", 0, 0],
    ["last byte", "bytes=12233-12233", 12233, 12233],
    ["across the first boundary", "bytes=2990-3009", 2990, 3009],
    ["exactly the second chunk", "bytes=3000-5999", 3000, 5999],
    ["across three chunks", "bytes=2999-11001", 2999, 11001],
    ["suffix", "bytes=-10", 12224, 12233],
    ["open", "bytes=11000-", 11000, 12233],
    ["an end past the last byte, clamped", "bytes=12000-99999", 12000, 12233],
  ])("answers a range, %s, with 206 and exactly those bytes", async (_, header, start, end) => {
    const { id, image } = await storedImage();
    const response = await call(`/v1/manifests/${id}/image`, { headers: { Range: header } });
    expect(image.byteLength).toBe(12234);
    await expectPart(response, image, start, end);
  });

  it("refuses a start past the end with 416 and Content-Range: bytes */size", async () => {
    const { id } = await storedImage();
    const response = await call(`/v1/manifests/${id}/image`, {
      headers: { Range: "bytes=12234-" },
    });
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe("bytes */12234");
    expect((await problemOf(response)).detail).toMatch(/12234/);
  });

  it("answers several ranges with the whole image, never a wrong single part", async () => {
    const { id, image } = await storedImage();
    const response = await call(`/v1/manifests/${id}/image`, {
      headers: { Range: "bytes=0-1,5000-5001" },
    });
    expect(response.status).toBe(200);
    expect(await hex(await bytesOf(response))).toBe(await hex(image));
  });

  it("answers If-None-Match with 304 and a stale If-Range with the full 200", async () => {
    const { id, image } = await storedImage();
    const notModified = await call(`/v1/manifests/${id}/image`, {
      headers: { "If-None-Match": `"${id}"` },
    });
    expect(notModified.status).toBe(304);
    const stale = await call(`/v1/manifests/${id}/image`, {
      headers: { Range: "bytes=0-9", "If-Range": `"${"0".repeat(64)}"` },
    });
    expect(stale.status).toBe(200);
    expect((await bytesOf(stale)).byteLength).toBe(image.byteLength);
  });

  it("cuts the response short rather than send a chunk that does not match its id", async () => {
    const { id, chunks } = await storedImage();
    const victim = chunks[1] as TestChunk;
    const impostor = await makeChunk(3000, 99);
    await env.CHUNKS.put(`chunks/${victim.id}`, impostor.frame);
    await caches.default.delete(new Request(`https://edge.test/v1/chunks/${victim.id}`));
    const whole = await call(`/v1/manifests/${id}/image`);
    expect(whole.status).toBe(200);
    await expect(bytesOf(whole)).rejects.toThrow();
    const firstChunk = await call(`/v1/manifests/${id}/image`, {
      headers: { Range: "bytes=0-2999" },
    });
    expect(firstChunk.status).toBe(206);
    expect((await bytesOf(firstChunk)).byteLength).toBe(3000);
    await env.CHUNKS.put(`chunks/${victim.id}`, victim.frame);
    await caches.default.delete(new Request(`https://edge.test/v1/chunks/${victim.id}`));
    expect((await call(`/v1/manifests/${id}/image`)).status).toBe(200);
  });

  it("keeps one response under IMAGE_MAX_RESPONSE_BYTES: a larger range is 416, a larger whole 400", async () => {
    const { id, image } = await storedImage();
    const limited = (headers: Record<string, string> = {}) =>
      edge.fetch(
        new Request(`https://edge.test/v1/manifests/${id}/image`, { headers }),
        { ...env, IMAGE_MAX_RESPONSE_BYTES: "5000" },
        createExecutionContext(),
      );
    const small = await limited({ Range: "bytes=100-5099" });
    expect(small.status).toBe(206);
    expect(await hex(await bytesOf(small))).toBe(await hex(image.subarray(100, 5100)));
    const large = await limited({ Range: "bytes=100-5100" });
    expect(large.status).toBe(416);
    expect((await problemOf(large)).detail).toMatch(/at most 5000 bytes .* Range: bytes=0-4999/);
    const whole = await limited();
    expect(whole.status).toBe(400);
    expect((await problemOf(whole)).detail).toMatch(/12234 bytes/);
    const head = await edge.fetch(
      new Request(`https://edge.test/v1/manifests/${id}/image`, { method: "HEAD" }),
      { ...env, IMAGE_MAX_RESPONSE_BYTES: "5000" },
      createExecutionContext(),
    );
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe("12234");
  });

  it("serves an empty image, and 404 for an unknown manifest and a malformed id", async () => {
    const empty = await storeImage([]);
    const response = await call(`/v1/manifests/${empty.id}/image`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("0");
    expect((await call(`/v1/manifests/${"0".repeat(64)}/image`)).status).toBe(404);
    expect((await call("/v1/manifests/xyz/image")).status).toBe(400);
  });
});

describe("GET /v1/rootfs/:name/image", () => {
  it("follows the ref with its short cache time, and its ETag moves with the ref", async () => {
    const first = await storedImage();
    expect(
      (await moveRef("imaged", { manifest: first.id, published: "2026-11-26T10:00:00.000Z" }))
        .status,
    ).toBe(201);
    const response = await call("/v1/rootfs/imaged/image");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=30");
    expect(response.headers.get("ETag")).toBe(`"${first.id}"`);
    expect(await hex(await bytesOf(response))).toBe(await hex(first.image));

    const other = await storeImage([await makeChunk(777, 7)]);
    const current = await call("/v1/rootfs/imaged");
    expect(
      (
        await moveRef(
          "imaged",
          { manifest: other.id, published: "2026-11-26T10:00:01.000Z" },
          { "If-Match": current.headers.get("ETag") ?? "" },
        )
      ).status,
    ).toBe(200);
    const moved = await call("/v1/rootfs/imaged/image", {
      headers: { Range: "bytes=0-9", "If-Range": `"${first.id}"` },
    });
    expect(moved.status).toBe(200);
    expect(moved.headers.get("ETag")).toBe(`"${other.id}"`);
    expect((await bytesOf(moved)).byteLength).toBe(777);
    expect((await call("/v1/rootfs/nosuch/image")).status).toBe(404);
    expect((await call("/v1/rootfs/..%2Fetc/image")).status).toBe(400);
  });
});

/** An independent reader of casync's blob index, from caformat.h. */
function readCaibx(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => view.getBigUint64(at, true);
  const items: { end: bigint; id: string }[] = [];
  for (let at = 64; at < bytes.byteLength - 40; at += 40) {
    items.push({
      end: u64(at),
      id: [...bytes.subarray(at + 8, at + 40)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    });
  }
  const tail = bytes.byteLength - 40;
  return {
    headerSize: u64(0),
    type: u64(8),
    flags: u64(16),
    min: u64(24),
    avg: u64(32),
    max: u64(40),
    tableSize: u64(48),
    tableType: u64(56),
    items,
    tail: [u64(tail), u64(tail + 8), u64(tail + 16), u64(tail + 24), u64(tail + 32)],
  };
}

describe("casync: index.caibx and the castr store layout", () => {
  it("serves the manifest as a casync blob index, by id and by name", async () => {
    const { id, chunks } = await storedImage();
    const response = await call(`/v1/manifests/${id}/index.caibx`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    const index = readCaibx(await bytesOf(response));
    expect(index.headerSize).toBe(48n);
    expect(index.type).toBe(0x96824d9c7b129ff9n);
    expect(index.flags).toBe(0x9000000000000000n);
    expect([index.min, index.avg, index.max]).toEqual([1024n, 4096n, 8192n]);
    expect(index.tableSize).toBe(0xffffffffffffffffn);
    expect(index.tableType).toBe(0xe75b9e112f17417dn);
    expect(index.items).toEqual([
      { end: 3000n, id: chunks[0]?.id },
      { end: 6000n, id: chunks[1]?.id },
      { end: 11000n, id: chunks[2]?.id },
      { end: 12234n, id: chunks[3]?.id },
    ]);
    expect(index.tail).toEqual([0n, 0n, 48n, BigInt(16 + 4 * 40 + 40), 0x4b4f050e5549ecd1n]);
    expect(response.headers.get("Content-Length")).toBe(String(48 + 16 + 4 * 40 + 40));

    await moveRef("indexed", { manifest: id, published: "2026-11-26T10:00:00.000Z" });
    const byName = await call("/v1/rootfs/indexed/index.caibx");
    expect(byName.headers.get("Cache-Control")).toBe("public, max-age=30");
    expect(readCaibx(await bytesOf(byName)).items).toHaveLength(4);
  });

  it("serves a chunk at /v1/castr/<4 hex>/<id>.cacnk, and 404 for any other path", async () => {
    const chunk = await makeChunk(2000, 11);
    await uploadChunk(chunk);
    const path = `/v1/castr/${chunk.id.slice(0, 4)}/${chunk.id}.cacnk`;
    const response = await call(path);
    expect(response.status).toBe(200);
    expect(await hex(await bytesOf(response))).toBe(await hex(chunk.frame));
    expect(response.headers.get("ETag")).toBe(`"${chunk.id}"`);
    for (const bad of [
      `/v1/castr/${chunk.id.slice(0, 3)}/${chunk.id}.cacnk`,
      `/v1/castr/0000/${chunk.id}.cacnk`,
      `/v1/castr/${chunk.id.slice(0, 4)}/${chunk.id}`,
      `/v1/castr/${chunk.id.slice(0, 4).toUpperCase()}/${chunk.id.toUpperCase()}.cacnk`,
      `/v1/castr/${chunk.id.slice(0, 4)}/${chunk.id}.cacnk.tmp`,
      `/v1/castr/${chunk.id.slice(0, 4)}/..%2F${chunk.id}.cacnk`,
    ]) {
      expect((await call(bad)).status, bad).toBe(404);
    }
    expect((await call(`/v1/castr/0000/${"0".repeat(64)}.cacnk`)).status).toBe(404);
  });
});
