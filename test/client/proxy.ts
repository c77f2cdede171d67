import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What the proxy got from upstream for one request; a rewrite may change any of it. */
export interface Upstream {
  path: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Rewrites an answer on its way to the client. */
export type Rewrite = (answer: Upstream) => Upstream | Promise<Upstream>;

/** A loopback HTTP proxy in front of an edge, able to tamper with what it relays. */
export interface TestProxy {
  url: string;
  /** Paths requested through the proxy, in order. */
  requests: { path: string; headers: IncomingMessage["headers"] }[];
  rewrite: Rewrite;
  close(): Promise<void>;
}

/** Starts a proxy to `upstream` on 127.0.0.1; `rewrite` passes answers through until replaced. */
export async function startProxy(upstream: string): Promise<TestProxy> {
  const proxy: TestProxy = {
    url: "",
    requests: [],
    rewrite: (answer) => answer,
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    proxy.requests.push({ path, headers: req.headers });
    try {
      const response = await fetch(`${upstream}${path}`, { method: req.method });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        if (
          !["content-length", "transfer-encoding", "connection", "content-encoding"].includes(key)
        ) {
          headers[key] = value;
        }
      });
      const answer = await proxy.rewrite({
        path,
        status: response.status,
        headers,
        body: Buffer.from(await response.arrayBuffer()),
      });
      res.writeHead(answer.status, { ...answer.headers, "content-length": answer.body.byteLength });
      res.end(req.method === "HEAD" ? undefined : answer.body);
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

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
