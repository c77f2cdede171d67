// A loopback HTTP proxy in front of a local edge, for tests, benchmarks and the boot demo: it
// records every request (and when, and how many body bytes went back), can add a network round
// trip to each (the benchmarks' delay), can rewrite answers on their way back (the tests'
// tampering edge), and can break chosen exchanges (a network lost mid-upload or mid-download).
// Requests and responses are streamed through unchanged (Range and conditional
// headers included) unless a rewrite is set; keep-alive on both sides.
import { Agent, createServer, request } from "node:http";

/** Headers of one connection, not of the message: never relayed. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/**
 * @param {import("node:http").IncomingHttpHeaders} headers
 * @returns {import("node:http").OutgoingHttpHeaders}
 */
function endToEnd(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/** @param {number} ms */
const sleep = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);

/**
 * One request through the proxy.
 * @typedef {object} ProxiedRequest
 * @property {string} method
 * @property {string} path     the request target, e.g. `/v1/chunks/ab12…`
 * @property {import("node:http").IncomingHttpHeaders} headers the client's request headers
 * @property {number} startMs  performance.now() when it arrived
 * @property {number} endMs    performance.now() when its response was finished (NaN until then)
 * @property {number} status   the status sent back (0 until the edge answered, 502 if it could not
 *   be reached)
 * @property {number} bytes    response body bytes sent back
 * @property {boolean} newConnection the first request on its client connection
 * @property {Fault | undefined} fault how the proxy broke it, if it did
 */

/**
 * An answer from upstream, read whole, as a rewrite sees and returns it.
 * @typedef {object} Upstream
 * @property {string} path
 * @property {number} status
 * @property {Record<string, string>} headers end-to-end headers, without content-length
 * @property {Buffer} body
 */

/** @typedef {(answer: Upstream) => Upstream | Promise<Upstream>} Rewrite */

/**
 * A way to break one exchange: `drop` destroys the client's connection without an answer (the
 * network lost mid-upload); `truncate` sends the answer's headers and the first half of its body,
 * then destroys the connection (lost mid-download; only a 200 answer is cut, others pass whole).
 * @typedef {"drop" | "truncate"} Fault
 */

/**
 * Asked of each request as it arrives (method and path): the fault to inflict, or undefined to
 * pass it through.
 * @typedef {(request: { method: string, path: string }) => Fault | undefined} FaultRule
 */

/** @typedef {{ index: number, connections: number }} Mark */

/**
 * What went through the proxy since a mark.
 * @typedef {object} Traffic
 * @property {ProxiedRequest[]} log  the requests, in arrival order
 * @property {number} requests how many
 * @property {number} bytes    response body bytes
 * @property {number} connections new client connections
 * @property {number} peakInFlight the most requests in flight at once among them
 */

/**
 * A running proxy.
 * @typedef {object} HttpProxy
 * @property {string} url   e.g. `http://127.0.0.1:41235`
 * @property {number} port  its loopback port
 * @property {number} rttMs the round trip it adds to each request
 * @property {ProxiedRequest[]} requests every request so far, in arrival order
 * @property {Rewrite | undefined} rewrite when set, each answer is asked for unencoded (no
 *   accept-encoding), read whole and sent back as this returns it (with its content-length);
 *   settable at any time, read as each request arrives
 * @property {FaultRule | undefined} fault when set, breaks the exchanges it names (see Fault)
 *   instead of relaying them; settable at any time, read as each request arrives
 * @property {() => Mark} mark a point to count from, for `since`
 * @property {(mark: Mark) => Traffic} since
 * @property {() => number} peak the most requests in flight at once since the start
 * @property {() => Promise<void>} close
 */

/**
 * Starts a proxy to `upstream` (an `http://127.0.0.1:PORT` origin) on a free port of 127.0.0.1.
 *
 * `rttMs` makes every request pay a network round trip: it waits half of it before it is
 * forwarded and the other half before its response starts (headers, then the body as it comes);
 * with `connectRtt`, a new client connection's handshake (TCP, no TLS) takes one more round trip
 * from the moment it opens: a request sent on it before then waits for the rest, one sent on a
 * connection opened ahead of it does not. Requests are delayed independently, so N at once cost
 * one round trip, not N. Bandwidth is not limited. `keepAliveMs` is how long an idle client connection is kept
 * (Node's default, 5 s, unless given).
 * @param {{ upstream: string, rttMs?: number, connectRtt?: boolean, keepAliveMs?: number }} options
 * @returns {Promise<HttpProxy>}
 */
export async function startProxy({ upstream, rttMs = 0, connectRtt = false, keepAliveMs }) {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  /** @type {ProxiedRequest[]} */
  const requests = [];
  const seen = new WeakSet();
  let inFlight = 0;
  let peak = 0;
  let connections = 0;
  /** When each client connection opened: its handshake ends one round trip later. */
  const opened = new WeakMap();
  /** @param {import("node:net").Socket} socket the ms of its handshake still to run */
  const handshakeLeft = (socket) =>
    Math.max(0, (opened.get(socket) ?? 0) + rttMs - performance.now());

  /**
   * Reads `answer` whole, passes it through `rewrite` and sends back what that returns.
   * @param {import("node:http").IncomingMessage} answer
   * @param {import("node:http").ServerResponse} outgoing
   * @param {ProxiedRequest} entry
   * @param {Rewrite} rewrite
   */
  async function rewriteAnswer(answer, outgoing, entry, rewrite) {
    /** @type {Buffer[]} */
    const parts = [];
    for await (const part of answer) parts.push(part);
    const { "content-length": length, ...headers } = endToEnd(answer.headers);
    const given = await rewrite({
      path: entry.path,
      status: answer.statusCode ?? 0,
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
      body: Buffer.concat(parts),
    });
    entry.status = given.status;
    if (entry.method === "HEAD") {
      outgoing.writeHead(given.status, { ...given.headers, "content-length": length }).end();
      return;
    }
    entry.bytes = given.body.byteLength;
    outgoing.writeHead(given.status, { ...given.headers, "content-length": given.body.byteLength });
    outgoing.end(given.body);
  }

  /**
   * Reads `answer` whole and sends back its headers and the first half of its body, then destroys
   * the connection.
   * @param {import("node:http").IncomingMessage} answer
   * @param {import("node:http").ServerResponse} outgoing
   * @param {ProxiedRequest} entry
   */
  async function truncateAnswer(answer, outgoing, entry) {
    /** @type {Buffer[]} */
    const parts = [];
    for await (const part of answer) parts.push(part);
    const body = Buffer.concat(parts);
    const half = body.subarray(0, Math.floor(body.byteLength / 2));
    entry.status = answer.statusCode ?? 0;
    entry.bytes = half.byteLength;
    entry.fault = "truncate";
    outgoing.writeHead(entry.status, endToEnd(answer.headers));
    outgoing.write(half, () => outgoing.socket?.destroy());
  }

  const server = createServer(async (incoming, outgoing) => {
    /** @type {ProxiedRequest} */
    const entry = {
      method: incoming.method ?? "GET",
      path: incoming.url ?? "/",
      headers: incoming.headers,
      startMs: performance.now(),
      endMs: Number.NaN,
      status: 0,
      bytes: 0,
      newConnection: !seen.has(incoming.socket),
      fault: undefined,
    };
    seen.add(incoming.socket);
    requests.push(entry);
    peak = Math.max(peak, ++inFlight);
    outgoing.once("close", () => {
      inFlight--;
      entry.endMs = performance.now();
    });
    /** @param {unknown} error */
    const failed = (error) => {
      if (outgoing.headersSent) return void outgoing.destroy();
      entry.status = 502;
      outgoing.writeHead(502, { "content-type": "text/plain" });
      outgoing.end(`edgeboot test proxy: the upstream ${upstream} failed: ${error}\n`);
    };
    const fault = proxy.fault?.({ method: entry.method, path: entry.path });
    if (fault === "drop") {
      entry.fault = fault;
      incoming.resume();
      incoming.socket.destroy();
      return;
    }
    await sleep(rttMs / 2 + (connectRtt ? handshakeLeft(incoming.socket) : 0));
    const rewrite = proxy.rewrite;
    const headers = endToEnd(incoming.headers);
    // A rewrite reads and changes the body itself, so it asks for it unencoded.
    if (rewrite) delete headers["accept-encoding"];
    const forward = request(
      {
        host: target.hostname,
        port: target.port,
        method: entry.method,
        path: entry.path,
        headers: { ...headers, host: target.host },
        agent,
      },
      async (answer) => {
        await sleep(rttMs / 2);
        if (fault === "truncate" && answer.statusCode === 200) {
          return truncateAnswer(answer, outgoing, entry).catch(failed);
        }
        if (rewrite) return rewriteAnswer(answer, outgoing, entry, rewrite).catch(failed);
        entry.status = answer.statusCode ?? 0;
        outgoing.writeHead(entry.status, endToEnd(answer.headers));
        answer.on("data", (/** @type {Buffer} */ data) => {
          entry.bytes += data.byteLength;
        });
        answer.pipe(outgoing);
      },
    );
    forward.on("error", failed);
    incoming.pipe(forward);
  });
  if (keepAliveMs !== undefined) {
    server.keepAliveTimeout = keepAliveMs;
    server.headersTimeout = keepAliveMs + 10_000;
  }
  server.on("connection", (socket) => {
    connections++;
    opened.set(socket, performance.now());
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(undefined));
  });
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());

  /** @type {HttpProxy} */
  const proxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    rttMs,
    requests,
    rewrite: undefined,
    fault: undefined,
    mark: () => ({ index: requests.length, connections }),
    since(mark) {
      const log = requests.slice(mark.index);
      /** @type {[number, number][]} */
      const events = log.flatMap((r) => [
        [r.startMs, 1],
        [Number.isNaN(r.endMs) ? Number.POSITIVE_INFINITY : r.endMs, -1],
      ]);
      events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let most = 0;
      for (const [, step] of events) {
        now += step;
        most = Math.max(most, now);
      }
      return {
        log,
        requests: log.length,
        bytes: log.reduce((sum, r) => sum + r.bytes, 0),
        connections: connections - mark.connections,
        peakInFlight: most,
      };
    },
    peak: () => peak,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          agent.destroy();
          resolve();
        });
      }),
  };
  return proxy;
}
