import { FormatError } from "../format/errors.js";
import { sha256Hex } from "../format/hex.js";
import { allChunkIds, decodeManifest, type Manifest } from "../format/manifest.js";
import { LruMap } from "../lib/lru.js";
import {
  CHUNK_PREFIX,
  checkProgressKey,
  chunkKey,
  manifestKey,
  type ObjectStorage,
  pendingManifestKey,
} from "./storage/index.js";
import { missingKeys } from "./storage/missing.js";

/**
 * A manifest is stored in steps, so that no request's cost grows with its size: `PUT` stores it
 * as pending (`pending/manifests/<id>`), then each check verifies the next batch of its distinct
 * chunks (boot files' included) and records how far it got (`pending/checks/<id>`, in metadata);
 * the check that verifies the last batch stores it as complete (`manifests/<id>`) and removes the
 * pending state. Only complete manifests are read, listed or named by refs. Every step is
 * idempotent: a crash between steps loses nothing and repeating a step finishes the job.
 */

/** What a check found. */
export type CheckOutcome =
  | { state: "complete"; stored: boolean; size: number; chunks: number }
  | { state: "pending"; checked: number; total: number }
  | { state: "missing"; checked: number; total: number; missing: string[] };

/** A pending manifest, as a check needs it: its distinct chunks and what the complete one records. */
export interface PendingManifest {
  id: string;
  /** Its distinct chunk ids, the image's first then the boot files', in order of appearance. */
  distinct: string[];
  /** Custom metadata of the complete object (size, chunks, bootable). */
  metadata: Record<string, string>;
  size: number;
  chunks: number;
}

/** Pending manifests parsed by this isolate: a large one costs CPU to parse on every batch. */
const PENDING_MEMO_SIZE = 2;
const pendingMemo = new LruMap<string, PendingManifest>({ maxEntries: PENDING_MEMO_SIZE });

/** The check state of manifest `manifest` (bytes already verified against `id`). */
export function pendingManifest(id: string, manifest: Manifest): PendingManifest {
  const entry: PendingManifest = {
    id,
    distinct: [...new Set(allChunkIds(manifest))],
    metadata: {
      size: String(manifest.size),
      chunks: String(manifest.chunks.length),
      bootable: manifest.boot ? "yes" : "no",
    },
    size: manifest.size,
    chunks: manifest.chunks.length,
  };
  pendingMemo.set(id, entry);
  return entry;
}

/**
 * Starts (or resumes) storing manifest `bytes` under `id`: one operation if it is already
 * complete, else it is stored as pending (unless it already is) and its progress read. Returns
 * the progress to check from, or undefined when the manifest is complete already.
 */
export async function beginCheck(
  storage: ObjectStorage,
  entry: PendingManifest,
  bytes: Uint8Array,
): Promise<number | undefined> {
  if (await storage.head(manifestKey(entry.id))) return undefined;
  const created = await storage.put(pendingManifestKey(entry.id), bytes, {
    contentType: "application/json",
    customMetadata: entry.metadata,
    onlyIf: { absent: true },
  });
  return created ? 0 : readProgress(storage, entry.id);
}

/**
 * Resumes the check of manifest `id`, stored as pending: undefined when it is already complete,
 * null when nothing of it is stored, else the pending manifest and its progress.
 */
export async function resumeCheck(
  storage: ObjectStorage,
  id: string,
): Promise<ResumedCheck | undefined | null> {
  if (await storage.head(manifestKey(id))) return undefined;
  const memo = pendingMemo.get(id);
  if (memo) {
    if (!(await storage.head(pendingManifestKey(id)))) return null;
    return { entry: memo, checked: await readProgress(storage, id) };
  }
  const bytes = await pendingBytes(storage, id);
  if (!bytes) return null;
  const entry = pendingManifest(id, decodeManifest(bytes));
  return { entry, checked: await readProgress(storage, id), bytes };
}

/** A pending manifest's check, resumed: how far it got, and its bytes when they were read. */
export interface ResumedCheck {
  entry: PendingManifest;
  checked: number;
  bytes?: Uint8Array;
}

/**
 * Checks the next `batch` distinct chunks of `entry` from `from` (at most what is verified so
 * far, `checked`): records the progress, or, when the last batch passes, stores the manifest as
 * complete and removes its pending state. `bytes` saves reading the pending manifest back.
 */
export async function advanceCheck(
  storage: ObjectStorage,
  entry: PendingManifest,
  from: number,
  checked: number,
  batch: number,
  bytes?: Uint8Array,
): Promise<CheckOutcome> {
  const total = entry.distinct.length;
  const slice = entry.distinct.slice(from, from + batch);
  const missing = await missingKeys(storage, slice.map(chunkKey));
  if (missing.length > 0) {
    const ids = missing.map((key) => key.slice(CHUNK_PREFIX.length));
    return { state: "missing", checked, total, missing: ids };
  }
  const reached = Math.max(checked, from + slice.length);
  if (reached < total) {
    await storage.put(checkProgressKey(entry.id), new Uint8Array(0), {
      customMetadata: { checked: String(reached) },
    });
    return { state: "pending", checked: reached, total };
  }
  const stored = await storage.put(
    manifestKey(entry.id),
    bytes ?? (await pendingBytes(storage, entry.id)) ?? vanished(entry.id),
    {
      contentType: "application/json",
      customMetadata: entry.metadata,
      onlyIf: { absent: true },
    },
  );
  await storage.delete(pendingManifestKey(entry.id));
  await storage.delete(checkProgressKey(entry.id));
  pendingMemo.delete(entry.id);
  return { state: "complete", stored: stored !== null, size: entry.size, chunks: entry.chunks };
}

async function readProgress(storage: ObjectStorage, id: string): Promise<number> {
  const progress = await storage.head(checkProgressKey(id));
  const checked = Number(progress?.customMetadata.checked ?? 0);
  return Number.isSafeInteger(checked) && checked > 0 ? checked : 0;
}

/** The bytes of pending manifest `id`, checked against its id; undefined when none is stored. */
async function pendingBytes(storage: ObjectStorage, id: string): Promise<Uint8Array | undefined> {
  const stored = await storage.get(pendingManifestKey(id));
  if (!stored) return undefined;
  const bytes = new Uint8Array(await new Response(stored.body).arrayBuffer());
  if ((await sha256Hex(bytes)) !== id) {
    throw new FormatError(`stored pending manifest ${id} does not match its id`);
  }
  return bytes;
}

function vanished(id: string): never {
  throw new FormatError(`pending manifest ${id} vanished during its check`);
}
