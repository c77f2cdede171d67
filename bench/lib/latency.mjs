// Read latency through `edgeboot nbd`: random 4 KiB reads, one at a time, timed at the client,
// each checked against the image; and the same offsets as HTTP range GETs straight from nginx.
import { closeSync, openSync, readSync } from "node:fs";
import { Agent, request } from "undici";
import { NbdClient } from "../../testing/nbd-client.mjs";
import { fractions, mulberry32 } from "../../testing/random.mjs";

export const READ_BYTES = 4096;

/** `count` offsets of READ_BYTES-aligned reads, uniform over `size` bytes (mulberry32, `seed`). */
export function randomOffsets(count, size, seed = 0x5eed) {
  const next = fractions(mulberry32(seed));
  const blocks = Math.floor(size / READ_BYTES);
  return Array.from({ length: count }, () => Math.floor(next() * blocks) * READ_BYTES);
}

/** For chunk lengths in image order: the index of the chunk holding byte `at`. */
export function chunkIndexer(lengths) {
  const starts = [];
  let at = 0;
  for (const length of lengths) {
    starts.push(at);
    at += length;
  }
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
}

/** n, mean, p50, p90, p99, max of `samples` (ms), nearest-rank percentiles. */
export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  return {
    n: sorted.length,
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
    max: sorted.at(-1),
  };
}

/** Compares read data with the image file's bytes. */
export function imageChecker(path) {
  const fd = openSync(path, "r");
  const expected = Buffer.alloc(READ_BYTES);
  return {
    check(offset, data) {
      readSync(fd, expected, 0, READ_BYTES, offset);
      if (!expected.equals(data)) throw new Error(`wrong bytes at offset ${offset}`);
    },
    close: () => closeSync(fd),
  };
}

/**
 * Reads every offset through `client` one at a time; returns per-read ms with a class each:
 * "first" (the first read of its chunk in this pass on this server) or "repeat".
 */
export async function timeNbdReads(client, offsets, chunkOf, checker, seen = new Set()) {
  const reads = [];
  for (const offset of offsets) {
    const chunk = chunkOf(offset);
    const kind = seen.has(chunk) ? "repeat" : "first";
    seen.add(chunk);
    const begin = performance.now();
    const data = await client.read(offset, READ_BYTES);
    reads.push({ ms: performance.now() - begin, kind, chunk });
    checker.check(offset, data);
  }
  return reads;
}

/** Opens export `name` on a server; resolves with the client and the handshake's ms. */
export async function openTimed(port, name) {
  const begin = performance.now();
  const client = await NbdClient.open("127.0.0.1", port, name);
  return { client, handshakeMs: performance.now() - begin };
}

/** Times GETs of `paths` from `base`, one at a time over one keep-alive connection (undici). */
export async function timeGets(base, paths, { range, checker, offsets } = {}) {
  const agent = new Agent({ connections: 1 });
  const get = async (path, headers) => {
    const response = await request(`${base}${path}`, { dispatcher: agent, headers });
    const body = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode !== (headers.Range ? 206 : 200)) {
      throw new Error(`GET ${path}: ${response.statusCode}`);
    }
    return body;
  };
  const headersOf = (index) => {
    const offset = offsets?.[index];
    return range ? { Range: `bytes=${offset}-${offset + READ_BYTES - 1}` } : {};
  };
  await get(paths[0], headersOf(0)); // opens the connection, untimed
  const samples = [];
  for (const [index, path] of paths.entries()) {
    const offset = offsets?.[index];
    const begin = performance.now();
    const body = await get(path, headersOf(index));
    samples.push(performance.now() - begin);
    if (checker) checker.check(offset, body);
  }
  await agent.close();
  return samples;
}
