// The edgeboot CLI as the boot demo drives it: publish an image and read back what the NBD
// server's cache holds afterwards (testing/edgeboot-nbd.mjs starts the server).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./tools.mjs";

/** The repository root (scripts/boot/../..). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(REPO, "bin", "edgeboot.js");

/**
 * Runs `edgeboot ARGS` to completion; rejects with its stderr if it fails.
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 * @returns {Promise<string>} its stdout
 */
export async function edgeboot(args, env = {}) {
  const { stdout } = await run(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
  });
  return stdout;
}

/**
 * Publishes `image` as rootfs `name` on `edge`.
 * @param {{ edge: string, token: string, image: string, name: string }} options
 * @returns {Promise<string>} the publisher's summary
 */
export function publishImage({ edge, token, image, name }) {
  return edgeboot(["publish", image, "--name", name, "--edge", edge], { EDGEBOOT_TOKEN: token });
}

/**
 * What the client cache holds, as `edgeboot cache` reports it.
 * @param {string} cacheDir
 * @returns {Promise<{ text: string, chunks: number, compressedMiB: number }>}
 */
export async function cacheUsage(cacheDir) {
  const text = await edgeboot(["cache", "--cache-dir", cacheDir]);
  const match = /chunks\s+(\d+) \(([\d.]+) MiB compressed\)/.exec(text);
  return { text, chunks: Number(match?.[1] ?? Number.NaN), compressedMiB: Number(match?.[2]) };
}

/**
 * Distinct chunks and the uncompressed bytes they hold.
 * @typedef {{ chunks: number, bytes: number }} ChunkSet
 */

/**
 * The parts of an image manifest (`GET /v1/manifests/<id>`) read here.
 * @typedef {object} ManifestSummary
 * @property {number} size              the image's size in bytes
 * @property {string[]} chunks          each chunk's id, in image order
 * @property {[number, number][]} lengths runs of [chunk length, how many chunks in a row]
 */

/**
 * How much of rootfs `name` the guest read and the cache holds, in distinct chunks (an ext4 image
 * repeats its all-zero chunk many times): its manifest (from the edge) against the chunk files
 * under `<cacheDir>/chunks/<2 hex>/<id>`, and against `reads` from `edgeboot nbd --record`.
 * @param {{ edge: string, name: string, cacheDir: string, reads?: [number, number][] }} options
 * @returns {Promise<{ manifest: string, size: number, chunks: number, distinct: ChunkSet,
 *   cached: ChunkSet, read?: ChunkSet }>}
 */
export async function imageCoverage({ edge, name, cacheDir, reads }) {
  /** @type {{ manifest: string }} */
  const ref = await getJson(`${edge}/v1/rootfs/${name}`);
  /** @type {ManifestSummary} */
  const manifest = await getJson(`${edge}/v1/manifests/${ref.manifest}`);
  /** @type {number[]} */
  const lengths = manifest.lengths.flatMap(([length, count]) => Array(count).fill(length));
  /** @type {string[]} */
  const ids = manifest.chunks;
  const byOffset = new Map();
  ids.reduce((offset, _, index) => {
    byOffset.set(offset, index);
    return offset + (lengths[index] ?? 0);
  }, 0);
  /**
   * @param {number[]} indexes chunk indexes (the same chunk may come more than once)
   * @returns {ChunkSet}
   */
  const tally = (indexes) => {
    const seen = new Map();
    for (const index of indexes) seen.set(ids[index], lengths[index] ?? 0);
    return { chunks: seen.size, bytes: [...seen.values()].reduce((a, b) => a + b, 0) };
  };
  const all = ids.map((_, index) => index);
  const cachedIds = new Set(
    ids.filter((id) => existsSync(join(cacheDir, "chunks", id.slice(0, 2), id))),
  );
  return {
    manifest: ref.manifest,
    size: manifest.size,
    chunks: ids.length,
    distinct: tally(all),
    cached: tally(all.filter((index) => cachedIds.has(/** @type {string} */ (ids[index])))),
    read: reads && tally(reads.map(([offset]) => byOffset.get(offset)).filter((i) => i >= 0)),
  };
}

/**
 * The chunk ranges each image's boot read, in first-read order, from the file
 * `edgeboot nbd --record` keeps (read-ahead and prefetch are not in it: only what the guest asked
 * for). The server writes it shortly after reads and when it stops.
 * @param {string} path
 * @returns {Promise<Record<string, [number, number][]>>} rootfs name → [offset, length] of each chunk
 */
export async function recordedReads(path) {
  /** @type {{ images: { name: string, reads: [number, number][] }[] }} */
  const profile = JSON.parse(await readFile(path, "utf8"));
  return Object.fromEntries(profile.images.map((image) => [image.name, image.reads]));
}

/**
 * GETs `url` and parses its JSON body; rejects when the status is not 2xx.
 * @param {string} url
 * @returns {Promise<any>} the parsed body, typed by the caller
 */
async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return response.json();
}
