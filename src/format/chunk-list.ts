import { FormatError } from "./errors.js";
import { isObjectId, type ObjectId } from "./ids.js";
import { MAX_CHUNK_BYTES, MAX_MANIFEST_CHUNKS } from "./limits.js";

/**
 * How content was cut into chunks: fixed sizes; FastCDC (`cdc`); or casync's own buzhash chunker
 * (`casync`), whose cuts casync reproduces when it re-chunks a seed.
 */
export type Chunking =
  | { kind: "fixed"; size: number }
  | { kind: "cdc" | "casync"; min: number; avg: number; max: number };

/** Chunk lengths run-length encoded as `[[length, count], ...]`, as manifests store them. */
export function encodeLengths(lengths: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const length of lengths) {
    const last = runs[runs.length - 1];
    if (last && last[0] === length) last[1]++;
    else runs.push([length, 1]);
  }
  return runs;
}

/** Expands `[[length, count], ...]` runs, which must describe exactly `chunkCount` chunks. */
export function decodeLengths(value: unknown, chunkCount: number, field = "lengths"): number[] {
  if (!Array.isArray(value)) {
    throw new FormatError(`manifest ${field} must be an array of [length, count] runs`, field);
  }
  const lengths: number[] = [];
  for (const run of value) {
    if (!Array.isArray(run) || run.length !== 2) {
      throw new FormatError(`each manifest ${field} entry must be a [length, count] pair`, field);
    }
    const length = nonNegativeInteger(run[0], field);
    const times = nonNegativeInteger(run[1], field);
    if (length < 1 || times < 1) {
      throw new FormatError(
        `manifest ${field} runs need a length and a count of at least 1`,
        field,
      );
    }
    if (lengths.length + times > chunkCount) {
      throw new FormatError(
        `manifest ${field} describe more chunks than the ${chunkCount} listed`,
        field,
      );
    }
    for (let i = 0; i < times; i++) lengths.push(length);
  }
  if (lengths.length !== chunkCount) {
    throw new FormatError(
      `manifest ${field} describe ${lengths.length} chunks but ${chunkCount} are listed`,
      field,
    );
  }
  return lengths;
}

/** Checks that `lengths` fit `chunking` and add up to `size` (the size of `what`). */
export function checkLengths(
  lengths: readonly number[],
  size: number,
  chunking: Chunking,
  {
    field = "lengths",
    sizeField = "size",
    what = "image",
  }: { field?: string; sizeField?: string; what?: string } = {},
): void {
  const limit = chunking.kind === "fixed" ? chunking.size : chunking.max;
  let total = 0;
  for (const [index, length] of lengths.entries()) {
    total += length;
    if (length > limit) {
      throw new FormatError(
        `chunk ${index} is ${length} bytes, over the chunking's ${limit}`,
        field,
      );
    }
    if (chunking.kind === "fixed" && length !== limit && index !== lengths.length - 1) {
      throw new FormatError(
        `chunk ${index} is ${length} bytes; with fixed chunking only the last chunk may be shorter than ${limit}`,
        field,
      );
    }
  }
  if (total !== size) {
    throw new FormatError(
      `chunk lengths add up to ${total}, not the ${what} size ${size}`,
      sizeField,
    );
  }
}

/** Checks a chunking document and returns it in its in-memory form. */
export function decodeChunking(value: unknown): Chunking {
  const doc = jsonRecord(value, "chunking");
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

/** The canonical document of `chunking` (fixed key order). */
export function encodeChunking(chunking: Chunking): Record<string, unknown> {
  return chunking.kind === "fixed"
    ? { kind: "fixed", size: chunking.size }
    : { kind: chunking.kind, min: chunking.min, avg: chunking.avg, max: chunking.max };
}

/** Checks a list of chunk ids (at most MAX_MANIFEST_CHUNKS, each 64 lowercase hex digits). */
export function decodeChunkIds(value: unknown, field = "chunks", entry = "chunk"): ObjectId[] {
  if (!Array.isArray(value)) {
    throw new FormatError(`manifest ${field} must be an array of ids`, field);
  }
  if (value.length > MAX_MANIFEST_CHUNKS) {
    throw new FormatError(
      `manifest lists ${value.length} chunks; the limit is ${MAX_MANIFEST_CHUNKS}`,
      field,
    );
  }
  for (const [index, id] of value.entries()) {
    if (!isObjectId(id)) {
      throw new FormatError(`manifest ${entry} ${index} is not 64 lowercase hex digits`, field);
    }
  }
  return value as ObjectId[];
}

/** `value` as a JSON object, or a FormatError naming `what`. */
export function jsonRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`${what} must be a JSON object`, what);
  }
  return value as Record<string, unknown>;
}

/** `value` as a safe non-negative integer, or a FormatError naming `field`. */
export function nonNegativeInteger(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new FormatError(`manifest ${field} must be a non-negative integer`, field);
  }
  return value as number;
}

function chunkSize(value: unknown, field: string): number {
  const size = nonNegativeInteger(value, field);
  if (size < 1 || size > MAX_CHUNK_BYTES) {
    throw new FormatError(`${field} must be between 1 and ${MAX_CHUNK_BYTES} bytes`, field);
  }
  return size;
}
