// A delaying loopback HTTP proxy: put in front of an edge, it makes every request pay a network
// round trip. Each request waits half the round trip before it is forwarded and the other half
// before its response starts (headers, then the body as it comes); the first request on a new
// client connection waits one more round trip (a TCP handshake; no TLS). Requests are delayed
// independently, so concurrent requests overlap: N at once cost one round trip, not N. Bandwidth
// is not limited. Keep-alive on both sides.
//
//   const proxy = await startDelayProxy({ upstream: "http://127.0.0.1:8787", rttMs: 50 });
//   proxy.url; proxy.mark(); …; proxy.since(mark) → requests, bytes, peak in flight, log
//
// The delay defaults to EDGEBOOT_BENCH_RTT_MS, else 50 ms.
import { Agent, createServer, request } from "node:http";

/** The round trip the proxy adds, in ms: EDGEBOOT_BENCH_RTT_MS, else 50. */
export const RTT_MS = Math.max(0, Number(process.env.EDGEBOOT_BENCH_RTT_MS ?? 50));

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

const endToEnd = (headers) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

const sleep = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);

/**
 * One request through the proxy.
 * @typedef {object} ProxiedRequest
 * @property {string} method
 * @property {string} path
 * @property {number} startMs   performance.now() when the request arrived
 * @property {number} endMs     performance.now() when its response was finished (NaN until then)
 * @property {number} status
 * @property {number} bytes     response body bytes sent
 * @property {boolean} newConnection the first request on its client connection
 */

/**
 * Starts the proxy on 127.0.0.1 (a free port).
 * @param {{ upstream: string, rttMs?: number, connectRtt?: boolean }} options
 */
export async function startDelayProxy({ upstream, rttMs = RTT_MS, connectRtt = true }) {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  /** @type {ProxiedRequest[]} */
  const log = [];
  const seen = new WeakSet();
  let inFlight = 0;
  let peak = 0;
  let connections = 0;

  const server = createServer(async (req, res) => {
    /** @type {ProxiedRequest} */
    const entry = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      startMs: performance.now(),
      endMs: Number.NaN,
      status: 0,
      bytes: 0,
      newConnection: !seen.has(req.socket),
    };
    seen.add(req.socket);
    log.push(entry);
    peak = Math.max(peak, ++inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      entry.endMs = performance.now();
    };
    res.once("close", finish);
    await sleep(rttMs / 2 + (entry.newConnection && connectRtt ? rttMs : 0));
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...endToEnd(req.headers), host: target.host },
        agent,
      },
      async (up) => {
        await sleep(rttMs / 2);
        entry.status = up.statusCode ?? 0;
        res.writeHead(entry.status, endToEnd(up.headers));
        up.on("data", (data) => {
          entry.bytes += data.byteLength;
        });
        up.pipe(res);
      },
    );
    out.on("error", (error) => {
      if (!res.headersSent) {
        entry.status = 502;
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`delay proxy: ${error.message}\n`);
      } else res.destroy(error);
    });
    req.pipe(out);
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.on("connection", () => connections++);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());

  return {
    url: `http://127.0.0.1:${port}`,
    rttMs,
    /** A point to count from: pass it to since(). */
    mark: () => ({ index: log.length, connections }),
    /**
     * What went through since `mark`: the requests (log), how many, body bytes, new client
     * connections, and the most requests in flight at once among them.
     */
    since(mark) {
      const requests = log.slice(mark.index);
      let most = 0;
      const events = requests.flatMap((r) => [
        [r.startMs, 1],
        [Number.isNaN(r.endMs) ? Number.POSITIVE_INFINITY : r.endMs, -1],
      ]);
      events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      for (const [, step] of events) {
        now += step;
        most = Math.max(most, now);
      }
      return {
        log: requests,
        requests: requests.length,
        bytes: requests.reduce((sum, r) => sum + r.bytes, 0),
        connections: connections - mark.connections,
        peakInFlight: most,
      };
    },
    /** The most requests in flight at once since the start. */
    peak: () => peak,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => {
          agent.destroy();
          resolve(undefined);
        });
      }),
  };
}
