import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EdgeClient, NotFoundError } from "../../src/client/edge-client.js";
import { EDGE_API } from "../../src/format/api.js";
import { EdgeHttp, parseEdgeUrl } from "../../src/http/edge-http.js";

const id = "cd".repeat(32);
const open: { server: Server; sockets: Set<Socket> }[] = [];

/** A loopback HTTP server that answers every request with `answer`. */
async function serve(answer: (res: ServerResponse, path: string) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => answer(res, req.url ?? "/"));
  server.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  open.push({ server, sockets });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const { server, sockets } of open.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe("EdgeClient's reasons for a failed request", () => {
  it("says a request timed out, and after how long", async () => {
    const silent = await serve(() => {});
    const client = new EdgeClient([silent], { timeoutMs: 250, attempts: 1 });
    try {
      await expect(client.getChunk(id)).rejects.toThrow(
        `GET ${EDGE_API.chunk.path(id)} failed on every edge: ${silent}${EDGE_API.chunk.path(id)}: timed out after 0.25 s`,
      );
    } finally {
      await client.close();
    }
  });

  it("says a body was cut short, not the socket's error code", async () => {
    const cut = await serve((res) => {
      res.writeHead(200, { "Content-Length": "1000" });
      res.write(Buffer.alloc(10), () => res.socket?.destroy());
    });
    const client = new EdgeClient([cut], { attempts: 1 });
    try {
      const failed = client.getManifest(id);
      await expect(failed).rejects.toThrow(/: the connection closed before the body ended$/);
      await expect(failed).rejects.not.toThrow(/UND_ERR/);
    } finally {
      await client.close();
    }
  });

  it("fails over to the next edge, and names a missing object only when every edge lacks it", async () => {
    const frame = Buffer.from("frame");
    const down = await serve((res) => res.writeHead(503).end('{"detail":"resting"}'));
    const up = await serve((res, path) =>
      path === EDGE_API.chunk.path(id) ? res.end(frame) : res.writeHead(404).end(),
    );
    const client = new EdgeClient([down, up], { attempts: 1 });
    try {
      const fetched = await client.getChunk(id);
      expect(fetched.bytes).toEqual(frame);
      expect(fetched.url).toBe(`${up}${EDGE_API.chunk.path(id)}`);
      await expect(client.getRef("nosuch")).rejects.toThrow(/status 503 \(resting\)/);
      const onlyUp = new EdgeClient([up]);
      await expect(onlyUp.getRef("nosuch")).rejects.toBeInstanceOf(NotFoundError);
      await onlyUp.close();
    } finally {
      await client.close();
    }
  });

  it("keeps an edge URL's path prefix", async () => {
    const prefixed = await serve((res, path) => res.end(path));
    const client = new EdgeClient([`${prefixed}/mirror`]);
    try {
      const fetched = await client.getRef("debian");
      expect(fetched.bytes.toString()).toBe(`/mirror${EDGE_API.ref.path("debian")}`);
    } finally {
      await client.close();
    }
  });
});

describe("EdgeClient's connections", () => {
  it("opens the connections of the window's first batch while a manifest is under way, when asked", async () => {
    let connections = 0;
    const url = await serve((res) => res.end("{}"));
    (open.at(-1) as { server: Server }).server.on("connection", () => connections++);
    const client = new EdgeClient([url], { inFlight: 32 });
    try {
      await client.getRef("debian");
      await client.getManifest(id);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(connections).toBeLessThanOrEqual(2); // undici may open one while the ref's finishes
      // The window's start after the ref (a loopback's 8, or wider on a busy machine whose ref
      // took long; the manifest's shorter exchange may bring it back down).
      const batch = client.window.size;
      await client.getManifest(id, { opensAhead: true });
      await expect.poll(() => connections).toBe(batch);
      await Promise.all(Array.from({ length: client.window.size }, () => client.getChunk(id)));
      expect(connections).toBe(batch);
    } finally {
      await client.close();
    }
  });
});

describe("EdgeHttp's URLs", () => {
  it("resolves an EDGE_API path below the edge's URL, keeping its path prefix", async () => {
    const http = new EdgeHttp(parseEdgeUrl("https://mirror.example/stores/a", Error));
    try {
      expect(http.url(EDGE_API.chunk.path(id)).href).toBe(
        `https://mirror.example/stores/a/v1/chunks/${id}`,
      );
    } finally {
      await http.close();
    }
  });

  it("refuses a path not built by EDGE_API", async () => {
    const http = new EdgeHttp(parseEdgeUrl("https://mirror.example/", Error));
    try {
      expect(() => http.url(`v1/chunks/${id}`)).toThrow(TypeError);
    } finally {
      await http.close();
    }
  });
});
