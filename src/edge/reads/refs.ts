import { decodeRef, type Ref, type RootfsSummary } from "../../format/ref.js";
import { LruMap } from "../../lib/lru.js";
import { type ObjectStorage, REF_PREFIX, refKey } from "../storage/index.js";

/**
 * Reading refs (`refs/<name>`): the current ref with its etag, the isolate's short memo of
 * resolved refs for the routes that follow a name, and the rootfs listing from the refs' metadata.
 * Refs move, so they are never put in the Cache API; every read is one storage operation.
 */

/** A ref as stored, with the storage etag it has now. */
export interface CurrentRef {
  ref: Ref;
  etag: string;
}

/** The current ref of rootfs `name` with its storage etag, if there is one. */
export async function readRef(
  storage: ObjectStorage,
  name: string,
): Promise<CurrentRef | undefined> {
  const stored = await storage.get(refKey(name));
  if (!stored) return undefined;
  const bytes = new Uint8Array(await new Response(stored.body).arrayBuffer());
  return { ref: decodeRef(bytes), etag: stored.etag };
}

/**
 * Refs read for `/image` and `index.caibx` by name, kept briefly by this isolate: a range reader
 * sends thousands of requests, and each would otherwise read `refs/<name>` from R2. Well within
 * the 30 s for which those responses may be cached anyway; a move or delete through this isolate
 * forgets the entry at once.
 */
const RESOLVED_MS = 5_000;
const RESOLVED_SIZE = 64;
const resolved = new LruMap<string, { at: number; ref: Ref }>({ maxEntries: RESOLVED_SIZE });

/** The current ref of rootfs `name` as `readRef` gives it, at most RESOLVED_MS old (one read, or none). */
export async function resolveRef(storage: ObjectStorage, name: string): Promise<Ref | undefined> {
  const memo = resolved.get(name);
  if (memo && Date.now() - memo.at < RESOLVED_MS) return memo.ref;
  resolved.delete(name);
  const current = await readRef(storage, name);
  if (!current) return undefined;
  resolved.set(name, { at: Date.now(), ref: current.ref });
  return current.ref;
}

/** Forgets the memo of rootfs `name`: this isolate moved or deleted its ref. */
export function forgetResolvedRef(name: string): void {
  resolved.delete(name);
}

/** Every rootfs on offer, in name order. */
export async function listSummaries(storage: ObjectStorage): Promise<RootfsSummary[]> {
  const summaries: RootfsSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.list(REF_PREFIX, cursor);
    for (const object of page.objects) {
      const meta = object.customMetadata;
      summaries.push({
        name: object.key.slice(REF_PREFIX.length),
        manifest: meta.manifest ?? "",
        published: meta.published ?? "",
        size: Number(meta.size ?? 0),
        chunks: Number(meta.chunks ?? 0),
        signed: meta.signed === "yes",
        bootable: meta.bootable === "yes",
      });
    }
    cursor = page.cursor;
  } while (cursor);
  return summaries;
}
