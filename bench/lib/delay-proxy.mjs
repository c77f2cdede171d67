// The benchmarks' delaying proxy in front of an edge: testing/http-proxy.mjs with a network round
// trip on every request (and one more for each new client connection, a TCP handshake; no TLS),
// idle connections kept 120 s as an edge keeps them.
//
//   const proxy = await startDelayProxy({ upstream: "http://127.0.0.1:8787", rttMs: 50 });
//   proxy.url; proxy.mark(); …; proxy.since(mark) → requests, bytes, peak in flight, log
import { startProxy } from "../../testing/http-proxy.mjs";

/** The round trip the proxy adds, in ms: EDGEBOOT_BENCH_RTT_MS, else 50. */
export const RTT_MS = Math.max(0, Number(process.env.EDGEBOOT_BENCH_RTT_MS ?? 50));

/**
 * Starts the proxy on 127.0.0.1 (a free port).
 * @param {{ upstream: string, rttMs?: number, connectRtt?: boolean }} options
 */
export function startDelayProxy({ upstream, rttMs = RTT_MS, connectRtt = true }) {
  return startProxy({ upstream, rttMs, connectRtt, keepAliveMs: 120_000 });
}
