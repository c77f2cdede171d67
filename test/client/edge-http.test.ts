import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { EDGE_API } from "../../src/format/api.js";
import { EdgeHttp, ExchangeFailure } from "../../src/http/edge-http.js";

const id = "ab".repeat(32);
const open: { server: Server; sockets: Set<Socket> }[] = [];

/** A loopback HTTP server answering every request with `answer`; resolves to an EdgeHttp on it. */
async function edgeOf(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets = new Set<Socket>();
  const server = createServer(answer);
  server.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  open.push({ server, sockets });
  return new EdgeHttp(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
}

afterEach(async () => {
  for (const { server, sockets } of open.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Answers gzip-encoded when the request asks for gzip, else identity; records what was asked. */
function negotiating(document: Buffer, asked: (string | undefined)[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    asked.push(req.headers["accept-encoding"]);
    if (req.headers["accept-encoding"] === "gzip") {
      res.writeHead(200, { "Content-Encoding": "gzip", ETag: `W/"${id}"` }).end(gzipSync(document));
    } else res.writeHead(200, { ETag: `"${id}"` }).end(document);
  };
}

describe("EdgeHttp's content codings", () => {
  const manifest = Buffer.from(JSON.stringify({ chunks: Array(200).fill(id) }));

  it("asks for a manifest gzip-encoded and hands back the decoded bytes", async () => {
    const asked: (string | undefined)[] = [];
    const http = await edgeOf(negotiating(manifest, asked));
    try {
      const answer = await http.exchange({
        path: EDGE_API.manifest.path(id),
        maxBytes: EDGE_API.manifest.maxBytes,
      });
      expect(asked).toEqual(["gzip"]);
      expect(answer.body).toEqual(manifest);
      expect(answer.headers["content-encoding"]).toBeUndefined();
    } finally {
      await http.close();
    }
  });

  it("takes an identity answer to a manifest as it is", async () => {
    const http = await edgeOf((_req, res) => res.end(manifest));
    try {
      const answer = await http.exchange({ path: EDGE_API.manifest.path(id) });
      expect(answer.body).toEqual(manifest);
    } finally {
      await http.close();
    }
  });

  it("never asks for a coding on chunks, refs or writes", async () => {
    const asked: (string | undefined)[] = [];
    const http = await edgeOf(negotiating(manifest, asked));
    try {
      await http.exchange({ path: EDGE_API.chunk.path(id) });
      await http.exchange({ path: EDGE_API.ref.path("debian") });
      await http.exchange({ path: EDGE_API.manifestCaibx.path(id) });
      await http.exchange({ method: "PUT", path: EDGE_API.manifest.path(id), body: manifest });
      expect(asked).toEqual([undefined, undefined, undefined, undefined]);
    } finally {
      await http.close();
    }
  });

  it("refuses a gzip bomb: a body that decodes to more than maxBytes", async () => {
    const bomb = gzipSync(Buffer.alloc(4 << 20));
    const http = await edgeOf((_req, res) =>
      res.writeHead(200, { "Content-Encoding": "gzip" }).end(bomb),
    );
    try {
      const exchange = http.exchange({ path: EDGE_API.manifest.path(id), maxBytes: 1 << 20 });
      await expect(exchange).rejects.toThrow(
        /sent a gzip body that decodes to more than 1048576 bytes: not an edgeboot object$/,
      );
      await expect(exchange).rejects.toMatchObject({ transient: false });
      expect(bomb.byteLength).toBeLessThan(1 << 20);
    } finally {
      await http.close();
    }
  });

  it("says when a body marked gzip is not gzip", async () => {
    const http = await edgeOf((_req, res) =>
      res.writeHead(200, { "Content-Encoding": "gzip" }).end(manifest),
    );
    try {
      const exchange = http.exchange({ path: EDGE_API.manifest.path(id) });
      await expect(exchange).rejects.toBeInstanceOf(ExchangeFailure);
      await expect(exchange).rejects.toThrow(/marked Content-Encoding: gzip that is not gzip/);
    } finally {
      await http.close();
    }
  });
});

describe("EdgeHttp's bodies", () => {
  const body = Buffer.from("0123456789".repeat(1000));

  it("takes a body whole, with a Content-Length or chunked", async () => {
    for (const sized of [true, false]) {
      const http = await edgeOf((_req, res) => {
        if (sized) res.writeHead(200, { "Content-Length": body.byteLength });
        res.write(body.subarray(0, 3000));
        setTimeout(() => res.end(body.subarray(3000)), 10);
      });
      try {
        const answer = await http.exchange({ path: EDGE_API.chunk.path(id), maxBytes: 10_000 });
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual(body);
      } finally {
        await http.close();
      }
    }
  });

  it("refuses a body over maxBytes, by its Content-Length or as it comes, and says why", async () => {
    for (const sized of [true, false]) {
      const http = await edgeOf((_req, res) => {
        if (sized) res.writeHead(200, { "Content-Length": body.byteLength });
        res.end(body);
      });
      try {
        const exchange = http.exchange({ path: EDGE_API.chunk.path(id), maxBytes: 9_999 });
        await expect(exchange).rejects.toBeInstanceOf(ExchangeFailure);
        await expect(exchange).rejects.toThrow(/sent more than 9999 bytes: not an edgeboot object/);
      } finally {
        await http.close();
      }
    }
  });

  it("times out a whole exchange whose body stalls, and says so", async () => {
    const sockets = new Set<Socket>();
    const server = createServer((_req, res) => {
      res.writeHead(200, { "Content-Length": 10 });
      res.write("01234");
    });
    server.on("connection", (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    open.push({ server, sockets });
    const port = (server.address() as AddressInfo).port;
    const http = new EdgeHttp(new URL(`http://127.0.0.1:${port}/`), {
      timeoutMs: 200,
      timeoutWholeExchange: true,
    });
    try {
      const exchange = http.exchange({ path: EDGE_API.chunk.path(id) });
      await expect(exchange).rejects.toThrow(/timed out after 0.2 s/);
    } finally {
      await http.close();
    }
  });
});

describe("EdgeHttp's connections opened ahead", () => {
  /** A server that records when each connection opened and on which one each request came. */
  async function recording() {
    const opened = new Map<Socket, number>();
    const requests: { openedBefore: boolean; socket: Socket }[] = [];
    let batchSent = Number.POSITIVE_INFINITY;
    const http = await edgeOf((req, res) => {
      requests.push({
        openedBefore: (opened.get(req.socket) ?? Number.POSITIVE_INFINITY) < batchSent,
        socket: req.socket,
      });
      res.end("ok");
    });
    const server = open.at(-1)?.server as Server;
    server.on("connection", (socket: Socket) => opened.set(socket, performance.now()));
    return { http, opened, requests, markBatch: () => (batchSent = performance.now()) };
  }

  it("opens connections before a batch of requests, which then uses them and opens none", async () => {
    const { http, opened, requests, markBatch } = await recording();
    try {
      await http.exchange({ path: "/v1/refs/first" });
      http.preconnect(4);
      await expect.poll(() => opened.size).toBe(4);
      await new Promise((resolve) => setTimeout(resolve, 20));
      markBatch();
      const batch = Array.from({ length: 4 }, (_, i) => http.exchange({ path: `/v1/chunks/${i}` }));
      await Promise.all(batch);
      expect(opened.size).toBe(4);
      expect(requests.slice(1).every((r) => r.openedBefore)).toBe(true);
      expect(new Set(requests.slice(1).map((r) => r.socket)).size).toBe(4);
    } finally {
      await http.close();
    }
  });

  it("hands out a connection still opening, and one the server closed is not used", async () => {
    const { http, opened, requests } = await recording();
    try {
      http.preconnect(1);
      await http.exchange({ path: "/v1/refs/first" });
      expect(opened.size).toBe(1);
      http.preconnect(3);
      await expect.poll(() => opened.size).toBe(3);
      for (const socket of opened.keys()) {
        if (!requests.some((r) => r.socket === socket)) socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const answers = await Promise.all(
        [1, 2].map((i) => http.exchange({ path: `/v1/chunks/${i}` })),
      );
      expect(answers.map((a) => a.body.toString())).toEqual(["ok", "ok"]);
    } finally {
      await http.close();
    }
  });

  it("opens no more than the connections allowed, counting those open", async () => {
    const { http, opened } = await recording();
    try {
      await http.exchange({ path: "/v1/refs/first" });
      http.preconnect(1);
      http.preconnect(200);
      await expect.poll(() => opened.size).toBe(16);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(opened.size).toBe(16);
    } finally {
      await http.close();
    }
  });
});
