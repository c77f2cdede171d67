/**
 * Loopback servers for the client tests: a port nothing listens on, and a static file server.
 * The proxy in front of an edge (recording, tampering) is testing/http-proxy.mjs.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A loopback port with nothing listening on it (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A plain static file server over `dir` on 127.0.0.1, as any web server would serve a mirror. */
export async function startStaticServer(
  dir: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const { readFile } = await import("node:fs/promises");
  const { join, normalize } = await import("node:path");
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (path.includes("..")) return void res.writeHead(400).end();
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
