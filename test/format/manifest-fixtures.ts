/**
 * Manifests and helpers shared by the manifest tests (manifest*.test.ts). Runtime-neutral: these
 * tests run in workerd as well as in Node.
 */
import { expect } from "vitest";
import { type FormatError, FormatSyntaxError } from "../../src/format/errors.js";
import {
  decodeManifest,
  encodeManifest,
  MANIFEST_VERSION,
  type Manifest,
} from "../../src/format/manifest.js";
import { formatError } from "../fixtures/format-error.js";

/** One kibibyte. */
export const KiB = 1024;
/** The created time of every fixture manifest. */
export const CREATED = "2026-11-26T11:00:00.000Z";

/** `n` distinct, well-formed chunk ids (the index in the last 8 hex digits). */
export function ids(n: number, prefix = "c"): string[] {
  const base = prefix.repeat(56);
  return Array.from({ length: n }, (_, i) => base + i.toString(16).padStart(8, "0"));
}

/** A fixed-chunking manifest of `size` bytes cut at `chunkSize`. */
export function fixedManifest(
  size: number,
  chunkSize: number,
  extra: Partial<Manifest> = {},
): Manifest {
  const lengths: number[] = [];
  for (let left = size; left > 0; left -= chunkSize) lengths.push(Math.min(chunkSize, left));
  return {
    version: MANIFEST_VERSION,
    size,
    sha256: "a".repeat(64),
    chunking: { kind: "fixed", size: chunkSize },
    codec: "zstd",
    created: CREATED,
    chunks: ids(lengths.length),
    lengths,
    ...extra,
  };
}

/** A cdc manifest with the given chunk lengths. */
export function cdcManifest(lengths: number[], extra: Partial<Manifest> = {}): Manifest {
  return {
    version: MANIFEST_VERSION,
    size: lengths.reduce((a, b) => a + b, 0),
    sha256: "b".repeat(64),
    chunking: { kind: "cdc", min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB },
    codec: "gzip",
    created: CREATED,
    chunks: ids(lengths.length, "d"),
    lengths,
    ...extra,
  };
}

/** The raw JSON document of `manifest`, as a plain object to tamper with. */
export function docOf(manifest: Manifest): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(encodeManifest(manifest))) as Record<string, unknown>;
}

/** The JSON bytes of `doc`, not necessarily canonical. */
export function bytesOf(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Decodes `bytes`, expecting a FormatError; returns it. */
export function decodeError(bytes: Uint8Array): FormatError {
  return formatError(() => decodeManifest(bytes));
}

/** Tampers with a valid document and expects decoding to fail with `message` (and `field`). */
export function expectInvalid(
  change: (doc: Record<string, unknown>) => void,
  message: RegExp,
  field?: string,
  base: Manifest = fixedManifest(10 * KiB, 4 * KiB),
): FormatError {
  const doc = docOf(base);
  change(doc);
  const error = decodeError(bytesOf(doc));
  expect(error).not.toBeInstanceOf(FormatSyntaxError);
  expect(error.message).toMatch(message);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}
