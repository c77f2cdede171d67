// A static file server for bench/updates.mjs: serves an `edgeboot publish --out` directory store on
// 127.0.0.1 (GET and HEAD, one byte range) and counts the requests and body bytes it sends, so the
// benchmark knows exactly what `edgeboot fetch` downloaded.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { join, normalize } from "node:path";

/**
 * Starts serving `root`; resolves once it listens.
 * @param {string} root
 * @returns {Promise<{ url: string, sent: () => { requests: number, bytes: number }, close: () => Promise<void> }>}
 */
export function startStaticServer(root) {
  let requests = 0;
  let bytes = 0;
  const server = createServer(async (request, response) => {
    requests++;
    const path = join(
      root,
      normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)),
    );
    const info = await stat(path).catch(() => undefined);
    if (!path.startsWith(root) || !info?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    let start = 0;
    let end = info.size - 1;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? "");
    if (range) {
      start = range[1] ? Number(range[1]) : info.size - Number(range[2]);
      end = range[1] && range[2] ? Math.min(Number(range[2]), end) : end;
      response.writeHead(206, {
        "content-length": end - start + 1,
        "content-range": `bytes ${start}-${end}/${info.size}`,
      });
    } else response.writeHead(200, { "content-length": info.size });
    if (request.method === "HEAD" || info.size === 0) {
      response.end();
      return;
    }
    const body = createReadStream(path, { start, end });
    body.on("data", (chunk) => {
      bytes += chunk.length;
    });
    body.pipe(response);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        sent: () => ({ requests, bytes }),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
