import { type BootFiles, bootFileEntries, decodeBootFiles, encodeBootFiles } from "./boot-files.js";
import {
  type Chunking,
  checkLengths,
  decodeChunkIds,
  decodeChunking,
  decodeLengths,
  encodeChunking,
  encodeLengths,
  jsonRecord,
  nonNegativeInteger,
} from "./chunk-list.js";
import { type Codec, isCodec } from "./codec.js";
import { FormatError } from "./errors.js";
import { sha256Hex } from "./hex.js";
import { isObjectId, type ObjectId } from "./ids.js";
import { parseJsonBytes } from "./json.js";
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_CHUNKS } from "./limits.js";
import { isIsoUtcInstant } from "./time.js";

export type { Chunking } from "./chunk-list.js";

/** The manifest schema version this code reads and writes. */
export const MANIFEST_VERSION = 1;

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
  /** The kernel, initramfs and command line that boot this image, cut with its chunking. */
  boot?: BootFiles;
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
  "boot",
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
  const doc = jsonRecord(value, "manifest");
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
  const size = nonNegativeInteger(doc.size, "size");
  if (!isObjectId(doc.sha256)) {
    throw new FormatError("manifest sha256 must be 64 lowercase hex digits", "sha256");
  }
  const chunking = decodeChunking(doc.chunking);
  if (!isCodec(doc.codec))
    throw new FormatError('manifest codec must be "zstd" or "gzip"', "codec");
  if (!isIsoUtcInstant(doc.created)) {
    throw new FormatError(
      "manifest created must be an ISO 8601 UTC time like 2026-11-26T11:00:00.000Z",
      "created",
    );
  }
  const chunks = decodeChunkIds(doc.chunks);
  const lengths = decodeLengths(doc.lengths, chunks.length);
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
  if (doc.boot !== undefined) {
    manifest.boot = decodeBootFiles(doc.boot);
    const total = allChunkIds(manifest).length;
    if (total > MAX_MANIFEST_CHUNKS) {
      throw new FormatError(
        `manifest lists ${total} chunks with its boot files; the limit is ${MAX_MANIFEST_CHUNKS}`,
        "boot",
      );
    }
  }
  return manifest;
}

/**
 * Every chunk id the manifest names, the image's and then its boot files', in order and with
 * repeats: what must be stored before the manifest is, and what garbage collection keeps.
 */
export function allChunkIds(manifest: Pick<Manifest, "chunks" | "boot">): ObjectId[] {
  const files = bootFileEntries(manifest.boot);
  if (files.length === 0) return manifest.chunks;
  return [...manifest.chunks, ...files.flatMap(([, file]) => file.chunks)];
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
    chunking: encodeChunking(m.chunking),
    codec: m.codec,
    created: m.created,
    lengths: encodeLengths(m.lengths),
    chunks: m.chunks,
  };
  if (m.prefetch !== undefined) doc.prefetch = m.prefetch;
  if (m.boot !== undefined) doc.boot = encodeBootFiles(m.boot);
  return JSON.stringify(doc);
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
