import { execFile } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { startProxy } from "../../testing/http-proxy.mjs";
import { imageBytes, publishBytes, runFetch, useEdgeAndDir } from "../cli/edge.js";

const fixture = useEdgeAndDir();

/** GET `url` as raw bytes on the wire (no decoding), with `headers`. */
function rawGet(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(url, { headers }, async (answer) => {
      const parts: Buffer[] = [];
      for await (const part of answer) parts.push(part as Buffer);
      resolve({ headers: answer.headers, body: Buffer.concat(parts) });
    })
      .on("error", reject)
      .end();
  });
}

/**
 * The edge Worker in Miniflare (workerd over real HTTP): it only sets `Content-Encoding: gzip` on a
 * manifest, and workerd compresses the body on the way out.
 */
describe("a manifest on the wire", () => {
  it("is gzip-encoded by workerd for a client that asks, and identity for curl without Accept-Encoding", async () => {
    const { manifest } = await publishBytes(
      fixture.edge,
      fixture.dir,
      "wire",
      imageBytes(64 * 65536, 5),
      "--chunking",
      "fixed:64K",
    );
    const url = `${fixture.edge.url}${EDGE_API.manifest.path(manifest)}`;
    const identity = await rawGet(url);
    expect(identity.headers["content-encoding"]).toBeUndefined();
    expect(identity.headers.etag).toBe(`"${manifest}"`);
    const gzip = await rawGet(url, { "Accept-Encoding": "gzip" });
    expect(gzip.headers["content-encoding"]).toBe("gzip");
    expect(gzip.headers.vary).toBe("Accept-Encoding");
    expect(gzip.headers.etag).toBe(`W/"${manifest}"`);
    expect(gzip.body.byteLength).toBeLessThan(identity.body.byteLength * 0.75);
    expect(gunzipSync(gzip.body)).toEqual(identity.body);

    const curl = await promisify(execFile)("curl", ["-sS", "-D", "-", "-o", "/dev/null", url]);
    expect(curl.stdout).not.toMatch(/content-encoding/i);
    expect(curl.stdout).toMatch(new RegExp(`content-length: ${identity.body.byteLength}\\r`, "i"));
  });

  it("reaches edgeboot fetch gzip-encoded, fewer bytes on the wire, and still verifies against its id", async () => {
    const { manifest } = await publishBytes(
      fixture.edge,
      fixture.dir,
      "wire-fetch",
      imageBytes(32 * 65536, 6),
      "--chunking",
      "fixed:64K",
    );
    const identityBytes = (await rawGet(`${fixture.edge.url}${EDGE_API.manifest.path(manifest)}`))
      .body.byteLength;
    const proxy = await startProxy({ upstream: fixture.edge.url });
    try {
      const out = join(fixture.dir, "wire-fetch.out");
      const run = await runFetch(proxy.url, "wire-fetch", out, join(fixture.dir, "cache-wire"));
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("matches the manifest");
      const reads = proxy.requests.filter((r) => r.path === EDGE_API.manifest.path(manifest));
      expect(reads).toHaveLength(1);
      expect(reads[0]?.headers["accept-encoding"]).toBe("gzip");
      expect(reads[0]?.bytes).toBeGreaterThan(0);
      expect(reads[0]?.bytes).toBeLessThan(identityBytes * 0.75);
      const chunkReads = proxy.requests.filter((r) => r.path.startsWith("/v1/chunks/"));
      expect(chunkReads.length).toBeGreaterThan(0);
      for (const read of chunkReads) expect(read.headers["accept-encoding"]).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});
