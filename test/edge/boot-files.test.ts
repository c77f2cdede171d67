import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import edge from "../../src/edge/index.js";
import { fromBase64 } from "../../src/format/base64.js";
import { sha256Hex } from "../../src/format/hex.js";
import type { RootfsSummary } from "../../src/format/ref.js";
import { NO_FCS_B64, sample } from "../fixtures/zstd-vectors.js";
import {
  bytesOf,
  call,
  expectPart,
  makeChunk,
  moveRef,
  problemOf,
  storeBootableImage,
  storeImage,
  type TestChunk,
} from "./helpers.js";

const IMMUTABLE = "public, max-age=31536000, immutable";

const zstdChunk = async (): Promise<TestChunk> => {
  const raw = sample(5000);
  return { raw, id: await sha256Hex(raw), frame: fromBase64(NO_FCS_B64) };
};

/**
 * A bootable manifest: a kernel of four chunks (gzip and zstd: 5000, 5000, 5000, 1234 bytes, 16234
 * in all), an initrd of two (4096 + 999) and a two-chunk image.
 */
async function bootable() {
  const kernel = [
    await makeChunk(5000, 801),
    await zstdChunk(),
    await makeChunk(5000, 802),
    await makeChunk(1234, 803),
  ];
  const initrd = [await makeChunk(4096, 804), await makeChunk(999, 805)];
  const image = [await makeChunk(4096, 806), await makeChunk(100, 807)];
  const made = await storeBootableImage(image, {
    cmdline: "console=ttyS0 quiet",
    kernel,
    initrd,
  });
  return { ...made, kernelChunks: kernel };
}

const hex = (bytes: Uint8Array) => sha256Hex(bytes);

describe("GET /v1/manifests/:id/boot/:file", () => {
  it("serves the kernel and the initrd byte for byte, immutable, ETag the file's SHA-256", async () => {
    const { id, kernel, initrd, manifest } = await bootable();
    for (const [file, bytes] of [
      ["kernel", kernel],
      ["initrd", initrd as Uint8Array],
    ] as const) {
      const response = await call(`/v1/manifests/${id}/boot/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("Content-Type")).toBe("application/octet-stream");
      expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
      expect(response.headers.get("Accept-Ranges")).toBe("bytes");
      expect(response.headers.get("Cache-Control")).toBe(IMMUTABLE);
      expect(response.headers.get("ETag")).toBe(`"${await hex(bytes)}"`);
      expect(response.headers.get("Last-Modified")).toBe(new Date(manifest.created).toUTCString());
      expect(await hex(await bytesOf(response))).toBe(await hex(bytes));
    }
  });

  it("answers HEAD with the headers and no body", async () => {
    const { id, kernel } = await bootable();
    const head = await call(`/v1/manifests/${id}/boot/kernel`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe(String(kernel.byteLength));
    expect(head.headers.get("Accept-Ranges")).toBe("bytes");
    expect((await bytesOf(head)).byteLength).toBe(0);
  });

  it.each([
    ["first byte", "bytes=0-0", 0, 0],
    ["last byte", "bytes=16233-16233", 16233, 16233],
    ["across the gzip/zstd boundary", "bytes=4990-5009", 4990, 5009],
    ["exactly the zstd chunk", "bytes=5000-9999", 5000, 9999],
    ["across three chunks", "bytes=4999-15001", 4999, 15001],
    ["suffix", "bytes=-10", 16224, 16233],
    ["open", "bytes=15000-", 15000, 16233],
    ["an end past the last byte, clamped", "bytes=16000-99999", 16000, 16233],
  ])("answers a range, %s, with 206 and exactly those bytes", async (_, header, start, end) => {
    const { id, kernel } = await bootable();
    const response = await call(`/v1/manifests/${id}/boot/kernel`, {
      headers: { Range: header },
    });
    expect(kernel.byteLength).toBe(16234);
    await expectPart(response, kernel, start, end);
  });

  it("refuses a start past the end with 416, answers several ranges with the whole file", async () => {
    const { id, kernel } = await bootable();
    const past = await call(`/v1/manifests/${id}/boot/kernel`, {
      headers: { Range: "bytes=16234-" },
    });
    expect(past.status).toBe(416);
    expect(past.headers.get("Content-Range")).toBe("bytes */16234");
    expect((await problemOf(past)).detail).toMatch(/16234/);
    const several = await call(`/v1/manifests/${id}/boot/kernel`, {
      headers: { Range: "bytes=0-1,5000-5001" },
    });
    expect(several.status).toBe(200);
    expect(await hex(await bytesOf(several))).toBe(await hex(kernel));
  });

  it("answers If-None-Match with 304, a failed If-Match with 412, a stale If-Range with 200", async () => {
    const { id, kernel } = await bootable();
    const etag = `"${await hex(kernel)}"`;
    const path = `/v1/manifests/${id}/boot/kernel`;
    const notModified = await call(path, { headers: { "If-None-Match": etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("ETag")).toBe(etag);
    expect((await call(path, { headers: { "If-Match": `"${"0".repeat(64)}"` } })).status).toBe(412);
    const stale = await call(path, {
      headers: { Range: "bytes=0-9", "If-Range": `"${"0".repeat(64)}"` },
    });
    expect(stale.status).toBe(200);
    expect((await bytesOf(stale)).byteLength).toBe(kernel.byteLength);
    const fresh = await call(path, { headers: { Range: "bytes=0-9", "If-Range": etag } });
    expect(fresh.status).toBe(206);
  });

  it("keeps one response under IMAGE_MAX_RESPONSE_BYTES, as /image does", async () => {
    const { id } = await bootable();
    const limited = (headers: Record<string, string> = {}) =>
      edge.fetch(
        new Request(`https://edge.test/v1/manifests/${id}/boot/kernel`, { headers }),
        { ...env, IMAGE_MAX_RESPONSE_BYTES: "5000" },
        createExecutionContext(),
      );
    expect((await limited({ Range: "bytes=0-4999" })).status).toBe(206);
    expect((await limited({ Range: "bytes=0-5000" })).status).toBe(416);
    expect((await limited()).status).toBe(400);
  });

  it("cuts the response short rather than send a chunk that does not match its id", async () => {
    const { id, kernelChunks } = await bootable();
    const victim = kernelChunks[2] as TestChunk;
    const impostor = await makeChunk(5000, 899);
    await env.CHUNKS.put(`chunks/${victim.id}`, impostor.frame);
    await caches.default.delete(new Request(`https://edge.test/v1/chunks/${victim.id}`));
    const whole = await call(`/v1/manifests/${id}/boot/kernel`);
    expect(whole.status).toBe(200);
    await expect(bytesOf(whole)).rejects.toThrow();
    const before = await call(`/v1/manifests/${id}/boot/kernel`, {
      headers: { Range: "bytes=0-9999" },
    });
    expect((await bytesOf(before)).byteLength).toBe(10000);
    await env.CHUNKS.put(`chunks/${victim.id}`, victim.frame);
    await caches.default.delete(new Request(`https://edge.test/v1/chunks/${victim.id}`));
    expect((await call(`/v1/manifests/${id}/boot/kernel`)).status).toBe(200);
  });

  it("answers 404 saying what exists for an unknown file, and for a manifest without boot files", async () => {
    const { id } = await bootable();
    const unknown = await problemOf(await call(`/v1/manifests/${id}/boot/vmlinuz`));
    expect(unknown.status).toBe(404);
    expect(unknown.detail).toMatch(
      /"vmlinuz" is not a boot file .* this manifest has: kernel, initrd/,
    );
    const plain = await storeImage([await makeChunk(2048, 808)]);
    const none = await problemOf(await call(`/v1/manifests/${plain.id}/boot/kernel`));
    expect(none.status).toBe(404);
    expect(none.detail).toMatch(/has no boot files: publish the rootfs with --kernel/);
    expect((await call(`/v1/manifests/${"0".repeat(64)}/boot/kernel`)).status).toBe(404);
    expect((await call("/v1/manifests/xyz/boot/kernel")).status).toBe(400);
  });

  it("says a manifest without an initrd has only a kernel", async () => {
    const made = await storeBootableImage([await makeChunk(1000, 809)], {
      cmdline: "",
      kernel: [await makeChunk(2000, 810)],
    });
    const problem = await problemOf(await call(`/v1/manifests/${made.id}/boot/initrd`));
    expect(problem.status).toBe(404);
    expect(problem.detail).toMatch(/has no initrd; this manifest has: kernel$/);
  });
});

describe("GET /v1/rootfs/:name/boot/:file", () => {
  it("follows the ref with a short cache; the ETag is the file's, kept while the kernel is", async () => {
    const first = await bootable();
    await moveRef("bootfiles", { manifest: first.id, published: "2026-11-26T10:00:00.000Z" });
    const kernelEtag = `"${await hex(first.kernel)}"`;
    const response = await call("/v1/rootfs/bootfiles/boot/kernel");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=30");
    expect(response.headers.get("ETag")).toBe(kernelEtag);
    expect(response.headers.get("Last-Modified")).toBe("Thu, 26 Nov 2026 10:00:00 GMT");
    expect(await hex(await bytesOf(response))).toBe(await hex(first.kernel));
    const initrd = await call("/v1/rootfs/bootfiles/boot/initrd", {
      headers: { Range: "bytes=4090-4101" },
    });
    expect(initrd.status).toBe(206);
    expect(await hex(await bytesOf(initrd))).toBe(
      await hex((first.initrd as Uint8Array).subarray(4090, 4102)),
    );
    const head = await call("/v1/rootfs/bootfiles/boot/kernel", { method: "HEAD" });
    expect(head.headers.get("Content-Length")).toBe("16234");

    const newKernel = [await makeChunk(2500, 811)];
    const second = await storeBootableImage([await makeChunk(500, 812)], {
      cmdline: "console=ttyS0",
      kernel: newKernel,
    });
    await moveRef("bootfiles", { manifest: second.id, published: "2026-11-26T10:00:01.000Z" });
    const moved = await call("/v1/rootfs/bootfiles/boot/kernel", {
      headers: { Range: "bytes=0-9", "If-Range": kernelEtag },
    });
    expect(moved.status).toBe(200);
    expect(moved.headers.get("ETag")).toBe(`"${await hex(second.kernel)}"`);
    expect(await hex(await bytesOf(moved))).toBe(await hex(second.kernel));
    expect((await call("/v1/rootfs/bootfiles/boot/initrd")).status).toBe(404);
  });

  it("answers 404 for a rootfs without boot files or none at all, 400 for a bad name", async () => {
    const plain = await storeImage([await makeChunk(2048, 813)]);
    await moveRef("plainfs", { manifest: plain.id, published: "2026-11-26T10:00:00.000Z" });
    const problem = await problemOf(await call("/v1/rootfs/plainfs/boot/kernel"));
    expect(problem.status).toBe(404);
    expect(problem.detail).toMatch(/no boot files/);
    expect((await call("/v1/rootfs/nosuch/boot/kernel")).status).toBe(404);
    expect((await call("/v1/rootfs/..%2Fetc/boot/kernel")).status).toBe(400);
  });

  it("is listed as bootable by GET /v1/rootfs, and a plain rootfs is not", async () => {
    const made = await bootable();
    await moveRef("listedboot", { manifest: made.id, published: "2026-11-26T10:00:00.000Z" });
    const plain = await storeImage([await makeChunk(2048, 814)]);
    await moveRef("listedplain", { manifest: plain.id, published: "2026-11-26T10:00:00.000Z" });
    const { rootfs } = (await (await call("/v1/rootfs")).json()) as { rootfs: RootfsSummary[] };
    expect(rootfs.find((r) => r.name === "listedboot")?.bootable).toBe(true);
    expect(rootfs.find((r) => r.name === "listedplain")?.bootable).toBe(false);
  });
});
