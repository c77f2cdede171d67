import { FormatError } from "../../format/errors.js";
import { sha256Hex } from "../../format/hex.js";
import { chunkOffsets, decodeManifest, type Manifest } from "../../format/manifest.js";
import { LruMap } from "../../lib/lru.js";
import { notFound } from "../http/problem.js";
import { MANIFEST, type ReadServices, readThrough } from "./objects.js";

/** Parsed manifests kept by this isolate, the most recently used: parsing a large one costs CPU. */
const MANIFEST_MEMO_SIZE = 16;
const manifestMemo = new LruMap<string, ParsedManifest>({ maxEntries: MANIFEST_MEMO_SIZE });

/** A manifest as the routes that assemble or describe its image use it. */
export interface ParsedManifest {
  manifest: Manifest;
  /** `chunkOffsets(manifest)`. */
  offsets: number[];
}

/**
 * Manifest `id`, parsed: from this isolate's memo, else read through the cache (`readThrough`),
 * checked against its id (the image must match what the id names), put in the cache when it came
 * from storage (as every reader does: `readThrough`'s fill), and parsed; 404 when it is not
 * stored. At most three operations (cache lookup, storage read, cache fill), which the routes
 * that read a manifest budget for (`ASSEMBLY_FIXED_OPERATIONS` in caps.ts, the dashboard's reads).
 */
export async function readManifest(services: ReadServices, id: string): Promise<ParsedManifest> {
  const memo = manifestMemo.get(id);
  if (memo) return memo;
  const read = await readThrough(services, MANIFEST, id);
  if (!read) throw notFound(`no manifest ${id} is stored here`);
  if ((await sha256Hex(read.bytes)) !== id) {
    throw new FormatError(`stored manifest ${id} does not match its id`);
  }
  read.fill?.();
  const manifest = decodeManifest(read.bytes);
  const entry = { manifest, offsets: chunkOffsets(manifest) };
  manifestMemo.set(id, entry);
  return entry;
}
