import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { DEFAULT_CHUNKING } from "../../src/publish/chunker.js";
import { EdgeTarget } from "../../src/publish/edge-target.js";
import { publish } from "../../src/publish/publish.js";
import { PublishError } from "../../src/publish/target.js";
import { imageBytes, startEdge, type TestEdge, tempDir } from "../cli/edge.js";

/** A proxy in front of the edge that answers some requests itself, to inject failures. */
async function faultyProxy(
  edge: string,
  fault: (req: IncomingMessage, seen: number) => number | undefined,
) {
  const seen = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const key = `${req.method} ${req.url}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const status = fault(req, count);
    if (status !== undefined) {
      res.writeHead(status, { "Content-Type": "application/problem+json", "Retry-After": "0" });
      res.end(JSON.stringify({ status, detail: `injected ${status}` }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        ([name]) => !["host", "connection", "content-length"].includes(name),
      ),
    ) as Record<string, string>;
    const upstream = await fetch(`${edge}${req.url}`, {
      method: req.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((r) => server.close(r)),
  };
}

let edge: TestEdge;
let image: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  edge = await startEdge();
  const temp = await tempDir();
  removeDir = temp.remove;
  image = join(temp.dir, "img");
  await writeFile(image, imageBytes(4 * 262144, 77));
});

afterAll(async () => {
  await edge?.close();
  await removeDir?.();
});

const options = { chunking: DEFAULT_CHUNKING, codec: "zstd" as const, level: 3, jobs: 2 };

describe("EdgeTarget retries", () => {
  it("retries 503, 429 and 500 with backoff and then succeeds", async () => {
    const proxy = await faultyProxy(edge.url, (req, seen) => {
      if (req.method === "PUT" && req.url?.startsWith("/v1/chunks/") && seen === 1) return 503;
      if (req.url === EDGE_API.missingChunks.path() && seen === 1) return 429;
      if (req.url?.startsWith("/v1/manifests/") && seen <= 2) return 500;
      return undefined;
    });
    const target = new EdgeTarget(proxy.url, { token: edge.token, backoffMs: 10 });
    const summary = await publish({ ...options, image, name: "flaky", target });
    expect(summary.newChunks).toBe(4);
    const chunkPuts = [...proxy.seen].filter(([key]) => key.startsWith("PUT /v1/chunks/"));
    expect(chunkPuts.every(([, count]) => count === 2)).toBe(true);
    await target.close();
    await proxy.close();
  });

  it("never retries another 4xx, and names what the edge said", async () => {
    const proxy = await faultyProxy(edge.url, (req) =>
      req.method === "PUT" && req.url?.startsWith("/v1/manifests/") ? 422 : undefined,
    );
    const target = new EdgeTarget(proxy.url, { token: edge.token, backoffMs: 10 });
    const attempt = publish({ ...options, image, name: "refused", target });
    await expect(attempt).rejects.toBeInstanceOf(PublishError);
    await expect(attempt).rejects.toThrow(/422: injected 422/);
    const manifestPuts = [...proxy.seen].filter(([key]) => key.startsWith("PUT /v1/manifests/"));
    expect(manifestPuts.map(([, count]) => count)).toEqual([1]);
    expect((await fetch(`${edge.url}${EDGE_API.ref.path("refused")}`)).status).toBe(404);
    await target.close();
    await proxy.close();
  });

  it("gives up on a persistent 5xx after its attempts", async () => {
    const proxy = await faultyProxy(edge.url, (req) => (req.url === "/" ? undefined : 503));
    const target = new EdgeTarget(proxy.url, { token: edge.token, backoffMs: 5, attempts: 3 });
    await expect(target.missing(["0".repeat(64)])).rejects.toThrow(/failed with 503/);
    expect(proxy.seen.get(`POST ${EDGE_API.missingChunks.path()}`)).toBe(3);
    await target.close();
    await proxy.close();
  });

  it("says a request timed out, and after how long", async () => {
    const sockets: Socket[] = [];
    const silent = createServer(() => {});
    silent.on("connection", (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const target = new EdgeTarget(url, { token: edge.token, timeoutMs: 200, attempts: 1 });
    try {
      await expect(target.missing(["0".repeat(64)])).rejects.toThrow(
        `cannot reach the edge at ${url} (timed out after 0.2 s)`,
      );
    } finally {
      await target.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
