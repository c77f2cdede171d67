// A static file server for bench/updates.mjs: serves an `edgeboot publish --out` directory store on
// 127.0.0.1 (GET and HEAD, one byte range) and counts the requests and body bytes it sends, so the
// benchmark knows exactly what `edgeboot fetch` downloaded. Like the edge Worker (and nginx with
// `gzip_types application/json`), it sends a manifest gzip-encoded to a whole GET whose
// Accept-Encoding accepts gzip, with `Vary: Accept-Encoding` and a weak ETag; chunks and refs go
// as stored.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { join, normalize } from "node:path";
import { gzipSync } from "node:zlib";

const MANIFEST_PATH = /^\/v1\/manifests\/[0-9a-f]{64}$/;

/**
 * Whether an Accept-Encoding value accepts gzip (listed as gzip, x-gzip or *, with q above 0), as
 * src/edge/http/encoding.ts reads it, less its ranking against a listed identity.
 * @param {string | undefined} header
 */
export function acceptsGzip(header) {
  if (header === undefined) return false;
  let gzip;
  let any;
  for (const element of header.split(",")) {
    const [name = "", ...params] = element.split(";").map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name === "gzip" || name === "x-gzip") gzip = weight;
    else if (name === "*") any = weight;
  }
  return (gzip ?? any ?? 0) > 0;
}

/**
 * Starts serving `root`; resolves once it listens. `sent()` counts every body byte as sent (gzip
 * ones as compressed), and the manifests' among them.
 * @param {string} root
 * @returns {Promise<{ url: string, sent: () => { requests: number, bytes: number, manifestBytes: number }, close: () => Promise<void> }>}
 */
export function startStaticServer(root) {
  let requests = 0;
  let bytes = 0;
  let manifestBytes = 0;
  const server = createServer(async (request, response) => {
    requests++;
    const urlPath = new URL(request.url ?? "/", "http://x").pathname;
    const path = join(root, normalize(decodeURIComponent(urlPath)));
    const info = await stat(path).catch(() => undefined);
    if (!path.startsWith(root) || !info?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    const manifest = MANIFEST_PATH.test(urlPath);
    const vary = manifest ? { vary: "Accept-Encoding" } : {};
    if (
      manifest &&
      request.method === "GET" &&
      request.headers.range === undefined &&
      acceptsGzip(request.headers["accept-encoding"])
    ) {
      const body = gzipSync(await readFile(path));
      bytes += body.byteLength;
      manifestBytes += body.byteLength;
      response.writeHead(200, {
        ...vary,
        "content-encoding": "gzip",
        etag: `W/"${urlPath.slice(14)}"`,
      });
      response.end(body);
      return;
    }
    let start = 0;
    let end = info.size - 1;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? "");
    if (range) {
      start = range[1] ? Number(range[1]) : info.size - Number(range[2]);
      end = range[1] && range[2] ? Math.min(Number(range[2]), end) : end;
      response.writeHead(206, {
        ...vary,
        "content-length": end - start + 1,
        "content-range": `bytes ${start}-${end}/${info.size}`,
      });
    } else response.writeHead(200, { ...vary, "content-length": info.size });
    if (request.method === "HEAD" || info.size === 0) {
      response.end();
      return;
    }
    const body = createReadStream(path, { start, end });
    body.on("data", (chunk) => {
      bytes += chunk.length;
      if (manifest) manifestBytes += chunk.length;
    });
    body.pipe(response);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        sent: () => ({ requests, bytes, manifestBytes }),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
