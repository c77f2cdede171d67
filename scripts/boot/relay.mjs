// A counting HTTP relay on the host's loopback, in front of a local edge: what a network-booted
// guest reaches (through qemu's guestfwd and socat), so a test or the demo sees every request the
// guest made (iPXE's scripts and boot files, the in-guest fetcher's chunks) and when. Requests and
// responses are streamed through unchanged (Range and conditional headers included), keep-alive on
// both sides; nothing is delayed.
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
 * One request through the relay.
 * @typedef {object} RelayedRequest
 * @property {string} method
 * @property {string} path     the request target, e.g. `/v1/chunks/ab12…`
 * @property {number} startMs  performance.now() when it arrived
 * @property {number} endMs    performance.now() when its response was finished (NaN until then)
 * @property {number} status   the edge's status (0 until it answered, 502 if it could not be reached)
 * @property {number} bytes    response body bytes relayed
 */

/**
 * A running relay.
 * @typedef {object} Relay
 * @property {string} url   e.g. `http://127.0.0.1:41235`
 * @property {number} port  its loopback port (what a guestfwd's socat connects to)
 * @property {RelayedRequest[]} requests every request so far, in arrival order
 * @property {() => Promise<void>} close
 */

/**
 * @param {import("node:http").IncomingHttpHeaders} headers
 * @returns {import("node:http").OutgoingHttpHeaders}
 */
function endToEnd(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/**
 * Starts a relay to `upstream` (an `http://127.0.0.1:PORT` origin) on an ephemeral loopback port.
 * @param {string} upstream
 * @returns {Promise<Relay>}
 */
export async function startRelay(upstream) {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  /** @type {RelayedRequest[]} */
  const requests = [];
  const server = createServer((incoming, outgoing) => {
    /** @type {RelayedRequest} */
    const entry = {
      method: incoming.method ?? "GET",
      path: incoming.url ?? "/",
      startMs: performance.now(),
      endMs: Number.NaN,
      status: 0,
      bytes: 0,
    };
    requests.push(entry);
    const forward = request(
      {
        host: target.hostname,
        port: target.port,
        method: entry.method,
        path: entry.path,
        headers: { ...endToEnd(incoming.headers), host: target.host },
        agent,
      },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        outgoing.writeHead(entry.status, endToEnd(answer.headers));
        answer.on("data", (/** @type {Buffer} */ data) => {
          entry.bytes += data.byteLength;
        });
        answer.on("end", () => {
          entry.endMs = performance.now();
        });
        answer.pipe(outgoing);
      },
    );
    forward.on("error", (error) => {
      entry.status = entry.status || 502;
      entry.endMs = performance.now();
      if (outgoing.headersSent) outgoing.destroy();
      else outgoing.writeHead(502).end(`edgeboot relay: the edge ${upstream} failed: ${error}\n`);
    });
    incoming.pipe(forward);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
