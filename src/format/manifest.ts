import { type Codec, isCodec } from "./codec.js";
import { FormatError } from "./errors.js";
import { sha256Hex } from "./hex.js";
import { isObjectId, type ObjectId } from "./ids.js";
import { parseJsonBytes } from "./json.js";
import { MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES, MAX_MANIFEST_CHUNKS } from "./limits.js";
import { isIsoUtcInstant } from "./time.js";

/** The manifest schema version this code reads and writes. */
export const MANIFEST_VERSION = 1;

/**
 * How an image was cut into chunks: fixed sizes; FastCDC (`cdc`); or casync's own buzhash chunker
 * (`casync`), whose cuts casync reproduces when it re-chunks a seed.
 */
export type Chunking =
  | { kind: "fixed"; size: number }
  | { kind: "cdc" | "casync"; min: number; avg: number; max: number };

/**
 * A manifest: the chunks of one image, in image order. Offsets follow from the lengths.
 *
 * Encoded as canonical JSON (fixed key order, no whitespace), with the lengths run-length encoded
 * as `[[length, count], ...]`: a fixed-size 4 GiB image lists one or two runs, so the document is
 * almost only its chunk ids (about 67 bytes a chunk).
 */
export interface Manifest {
  version: typeof MANIFEST_VERSION;
  /** Image size in bytes (the sum of the chunk lengths). */
  size: number;
  /** Lowercase hex SHA-256 of the whole image. */
  sha256: string;
  chunking: Chunking;
  codec: Codec;
  /** ISO 8601 UTC time of creation, e.g. `2026-11-26T11:00:00.000Z`. */
  created: string;
  /** Chunk ids in image order. */
  chunks: ObjectId[];
  /** Uncompressed length of each chunk, parallel to `chunks`. */
  lengths: number[];
  /** Chunk indexes in the order a recorded boot read them. */
  prefetch?: number[];
}

const FORMAT_TAG = "edgeboot-manifest";
const KEYS = [
  "format",
  "version",
  "size",
  "sha256",
  "chunking",
  "codec",
  "created",
  "lengths",
  "chunks",
  "prefetch",
];

/** Canonical bytes of `manifest`: the same manifest always gives the same bytes, hence the same id. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(manifestJson(manifest));
}

/** The manifest's id: the lowercase hex SHA-256 of its canonical bytes. */
export function manifestId(bytes: Uint8Array): Promise<ObjectId> {
  return sha256Hex(bytes);
}

/**
 * Parses and validates manifest bytes. Throws a FormatError naming the first problem found,
 * including bytes that are valid but not canonical (they would not hash to the id of the same
 * manifest written by anyone else).
 */
export function decodeManifest(bytes: Uint8Array): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new FormatError(`manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  const manifest = validateManifest(parseJsonBytes(bytes, "manifest"));
  // ignoreBOM keeps a leading byte order mark in the text, so such bytes are refused as not canonical.
  if (
    manifestJson(manifest) !==
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes)
  ) {
    throw new FormatError(
      "manifest is not in canonical form (key order, whitespace or number format differ from what encodeManifest writes)",
    );
  }
  return manifest;
}

/** Checks a parsed manifest document and returns it in its in-memory form. */
export function validateManifest(value: unknown): Manifest {
  const doc = record(value, "manifest");
  for (const key of Object.keys(doc)) {
    if (!KEYS.includes(key)) throw new FormatError(`manifest has an unknown field "${key}"`, key);
  }
  if (doc.format !== FORMAT_TAG) {
    throw new FormatError(`manifest "format" must be "${FORMAT_TAG}"`, "format");
  }
  if (doc.version !== MANIFEST_VERSION) {
    throw new FormatError(
      `unsupported manifest version ${JSON.stringify(doc.version)}; this code reads version ${MANIFEST_VERSION}`,
      "version",
    );
  }
  const size = count(doc.size, "size");
  if (!isObjectId(doc.sha256)) {
    throw new FormatError("manifest sha256 must be 64 lowercase hex digits", "sha256");
  }
  const chunking = validateChunking(doc.chunking);
  if (!isCodec(doc.codec))
    throw new FormatError('manifest codec must be "zstd" or "gzip"', "codec");
  if (!isIsoUtcInstant(doc.created)) {
    throw new FormatError(
      "manifest created must be an ISO 8601 UTC time like 2026-11-26T11:00:00.000Z",
      "created",
    );
  }
  const chunks = validateChunkIds(doc.chunks);
  const lengths = expandLengths(doc.lengths, chunks.length);
  checkLengths(lengths, size, chunking);
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    size,
    sha256: doc.sha256,
    chunking,
    codec: doc.codec,
    created: doc.created,
    chunks,
    lengths,
  };
  if (doc.prefetch !== undefined) manifest.prefetch = validatePrefetch(doc.prefetch, chunks.length);
  return manifest;
}

/** Byte offset of each chunk, plus the image size as a final entry (length `chunks + 1`). */
export function chunkOffsets(manifest: Pick<Manifest, "lengths">): number[] {
  const offsets = new Array<number>(manifest.lengths.length + 1);
  let at = 0;
  for (let i = 0; i < manifest.lengths.length; i++) {
    offsets[i] = at;
    at += manifest.lengths[i] as number;
  }
  offsets[manifest.lengths.length] = at;
  return offsets;
}

/** Index of the chunk holding byte `position`, by binary search over `chunkOffsets`; -1 if outside. */
export function chunkAt(offsets: readonly number[], position: number): number {
  const chunks = offsets.length - 1;
  if (chunks < 1 || position < 0 || position >= (offsets[chunks] as number)) return -1;
  let low = 0;
  let high = chunks - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if ((offsets[mid] as number) <= position) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** `chunking` as a short text such as `fixed:262144` or `cdc:65536/262144/1048576`. */
export function formatChunking(chunking: Chunking): string {
  return chunking.kind === "fixed"
    ? `fixed:${chunking.size}`
    : `${chunking.kind}:${chunking.min}/${chunking.avg}/${chunking.max}`;
}

function manifestJson(m: Manifest): string {
  const doc: Record<string, unknown> = {
    format: FORMAT_TAG,
    version: m.version,
    size: m.size,
    sha256: m.sha256,
    chunking:
      m.chunking.kind === "fixed"
        ? { kind: "fixed", size: m.chunking.size }
        : { kind: m.chunking.kind, min: m.chunking.min, avg: m.chunking.avg, max: m.chunking.max },
    codec: m.codec,
    created: m.created,
    lengths: runLengths(m.lengths),
    chunks: m.chunks,
  };
  if (m.prefetch !== undefined) doc.prefetch = m.prefetch;
  return JSON.stringify(doc);
}

function runLengths(lengths: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const length of lengths) {
    const last = runs[runs.length - 1];
    if (last && last[0] === length) last[1]++;
    else runs.push([length, 1]);
  }
  return runs;
}

function expandLengths(value: unknown, chunkCount: number): number[] {
  if (!Array.isArray(value)) {
    throw new FormatError("manifest lengths must be an array of [length, count] runs", "lengths");
  }
  const lengths: number[] = [];
  for (const run of value) {
    if (!Array.isArray(run) || run.length !== 2) {
      throw new FormatError(
        "each manifest lengths entry must be a [length, count] pair",
        "lengths",
      );
    }
    const length = count(run[0], "lengths");
    const times = count(run[1], "lengths");
    if (length < 1 || times < 1) {
      throw new FormatError(
        "manifest lengths runs need a length and a count of at least 1",
        "lengths",
      );
    }
    if (lengths.length + times > chunkCount) {
      throw new FormatError(
        `manifest lengths describe more chunks than the ${chunkCount} listed`,
        "lengths",
      );
    }
    for (let i = 0; i < times; i++) lengths.push(length);
  }
  if (lengths.length !== chunkCount) {
    throw new FormatError(
      `manifest lengths describe ${lengths.length} chunks but ${chunkCount} are listed`,
      "lengths",
    );
  }
  return lengths;
}

function checkLengths(lengths: readonly number[], size: number, chunking: Chunking): void {
  const limit = chunking.kind === "fixed" ? chunking.size : chunking.max;
  let total = 0;
  for (const [index, length] of lengths.entries()) {
    total += length;
    if (length > limit) {
      throw new FormatError(
        `chunk ${index} is ${length} bytes, over the chunking's ${limit}`,
        "lengths",
      );
    }
    if (chunking.kind === "fixed" && length !== limit && index !== lengths.length - 1) {
      throw new FormatError(
        `chunk ${index} is ${length} bytes; with fixed chunking only the last chunk may be shorter than ${limit}`,
        "lengths",
      );
    }
  }
  if (total !== size) {
    throw new FormatError(`chunk lengths add up to ${total}, not the image size ${size}`, "size");
  }
}

function validateChunking(value: unknown): Chunking {
  const doc = record(value, "chunking");
  if (doc.kind === "fixed" && Object.keys(doc).length === 2) {
    return { kind: "fixed", size: chunkSize(doc.size, "chunking.size") };
  }
  if ((doc.kind === "cdc" || doc.kind === "casync") && Object.keys(doc).length === 4) {
    const min = chunkSize(doc.min, "chunking.min");
    const avg = chunkSize(doc.avg, "chunking.avg");
    const max = chunkSize(doc.max, "chunking.max");
    if (!(min <= avg && avg <= max)) {
      throw new FormatError(`${doc.kind} chunking needs min <= avg <= max`, "chunking");
    }
    return { kind: doc.kind, min, avg, max };
  }
  throw new FormatError(
    'manifest chunking must be {"kind":"fixed","size":N} or {"kind":"cdc" or "casync","min":N,"avg":N,"max":N}',
    "chunking",
  );
}

function chunkSize(value: unknown, field: string): number {
  const size = count(value, field);
  if (size < 1 || size > MAX_CHUNK_BYTES) {
    throw new FormatError(`${field} must be between 1 and ${MAX_CHUNK_BYTES} bytes`, field);
  }
  return size;
}

function validateChunkIds(value: unknown): ObjectId[] {
  if (!Array.isArray(value))
    throw new FormatError("manifest chunks must be an array of ids", "chunks");
  if (value.length > MAX_MANIFEST_CHUNKS) {
    throw new FormatError(
      `manifest lists ${value.length} chunks; the limit is ${MAX_MANIFEST_CHUNKS}`,
      "chunks",
    );
  }
  for (const [index, id] of value.entries()) {
    if (!isObjectId(id)) {
      throw new FormatError(`manifest chunk ${index} is not 64 lowercase hex digits`, "chunks");
    }
  }
  return value as ObjectId[];
}

function validatePrefetch(value: unknown, chunkCount: number): number[] {
  if (!Array.isArray(value))
    throw new FormatError("manifest prefetch must be an array", "prefetch");
  for (const index of value) {
    if (!Number.isInteger(index) || index < 0 || index >= chunkCount) {
      throw new FormatError(
        `manifest prefetch entry ${JSON.stringify(index)} is not a chunk index`,
        "prefetch",
      );
    }
  }
  return value as number[];
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`${what} must be a JSON object`, what);
  }
  return value as Record<string, unknown>;
}

function count(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new FormatError(`manifest ${field} must be a non-negative integer`, field);
  }
  return value as number;
}
