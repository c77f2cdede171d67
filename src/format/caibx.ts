import { FormatError } from "./errors.js";
import { fromHex } from "./hex.js";
import { chunkOffsets, type Manifest } from "./manifest.js";

/** casync's `CA_FORMAT_INDEX`: the type of a blob index header. */
export const CA_FORMAT_INDEX = 0x96824d9c7b129ff9n;
/** casync's `CA_FORMAT_TABLE`: the type of the chunk table that follows it. */
export const CA_FORMAT_TABLE = 0xe75b9e112f17417dn;
/** casync's `CA_FORMAT_TABLE_TAIL_MARKER`: the last 8 bytes of an index. */
export const CA_FORMAT_TABLE_TAIL_MARKER = 0x4b4f050e5549ecd1n;
/**
 * Feature flags of a blob index whose chunk ids are SHA-256 (casync's `--digest=sha256`):
 * `CA_FORMAT_EXCLUDE_NODUMP | CA_FORMAT_EXCLUDE_FILE`, without `CA_FORMAT_SHA512_256`.
 */
export const CA_FEATURES_SHA256 = 0x9000000000000000n;
/** casync refuses chunk size limits above this. */
export const CA_CHUNK_SIZE_LIMIT = 128 * 1024 * 1024;

const HEADER_BYTES = 48;
const TABLE_HEADER_BYTES = 16;
const ITEM_BYTES = 40;
const TAIL_BYTES = 40;

/** The chunk size limits a blob index states for a manifest. */
export interface CaChunkSizes {
  min: number;
  avg: number;
  max: number;
}

/**
 * The size limits casync is told: the CDC parameters, or min = avg = max = the chunk size for
 * fixed chunking, widened where a manifest's own chunks fall outside them (casync refuses an
 * index in which a chunk but the first exceeds max, and limits beyond 1..128 MiB).
 */
export function caChunkSizes(manifest: Pick<Manifest, "chunking" | "lengths">): CaChunkSizes {
  const stated =
    manifest.chunking.kind === "fixed"
      ? { min: manifest.chunking.size, avg: manifest.chunking.size, max: manifest.chunking.size }
      : { min: manifest.chunking.min, avg: manifest.chunking.avg, max: manifest.chunking.max };
  const longest = manifest.lengths.reduce((a, b) => Math.max(a, b), 0);
  const max = Math.min(Math.max(stated.max, longest), CA_CHUNK_SIZE_LIMIT);
  const avg = Math.min(Math.max(stated.avg, 1), max);
  const min = Math.min(Math.max(stated.min, 1), avg);
  return { min, avg, max };
}

/** The exact size in bytes of the blob index of a manifest with `chunks` chunks. */
export function caibxSize(chunks: number): number {
  return HEADER_BYTES + TABLE_HEADER_BYTES + chunks * ITEM_BYTES + TAIL_BYTES;
}

/**
 * `manifest` as a casync blob index (`.caibx`), as `casync make --digest=sha256` writes one: a
 * 48-byte index header, the chunk table (16-byte header with size `UINT64_MAX`, then each chunk's
 * end offset and 32-byte id), and a 40-byte tail (two zero words, the table's offset, the table's
 * size, the marker). Every number is little-endian 64-bit. With the chunks stored under casync's
 * layout (`/v1/castr`), `casync extract` rebuilds the image from it.
 */
export function encodeCaibx(
  manifest: Pick<Manifest, "chunking" | "lengths" | "chunks">,
): Uint8Array {
  const count = manifest.chunks.length;
  const sizes = caChunkSizes(manifest);
  const bytes = new Uint8Array(caibxSize(count));
  const view = new DataView(bytes.buffer);
  const u64 = (at: number, value: bigint | number) => view.setBigUint64(at, BigInt(value), true);
  u64(0, HEADER_BYTES);
  u64(8, CA_FORMAT_INDEX);
  u64(16, CA_FEATURES_SHA256);
  u64(24, sizes.min);
  u64(32, sizes.avg);
  u64(40, sizes.max);
  u64(48, 0xffffffffffffffffn);
  u64(56, CA_FORMAT_TABLE);
  const ends = chunkOffsets(manifest);
  let at = HEADER_BYTES + TABLE_HEADER_BYTES;
  for (let index = 0; index < count; index++) {
    const id = fromHex(manifest.chunks[index] as string);
    if (id.byteLength !== 32) throw new FormatError(`chunk ${index} has no 32-byte id`);
    u64(at, ends[index + 1] as number);
    bytes.set(id, at + 8);
    at += ITEM_BYTES;
  }
  u64(at + 16, HEADER_BYTES);
  u64(at + 24, TABLE_HEADER_BYTES + count * ITEM_BYTES + TAIL_BYTES);
  u64(at + 32, CA_FORMAT_TABLE_TAIL_MARKER);
  return bytes;
}
