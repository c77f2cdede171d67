import { allChunkIds, decodeManifest, manifestId } from "../format/manifest.js";
import { forEachLimited } from "../lib/limiter.js";
import type { EdgeTarget, ObjectListing } from "./edge-target.js";
import { IdFilter } from "./id-filter.js";
import { PublishError } from "./target.js";

/** Objects deleted at once. */
const DELETES_IN_FLIGHT = 8;

/** One stored object that nothing reaches (`pending`: a manifest whose chunk check never finished). */
export interface DeadObject {
  kind: ObjectListing;
  id: string;
  size: number;
  uploaded: string;
}

/** What a collection found (and, unless a dry run, deleted). */
export interface GcResult {
  refs: number;
  /** Manifests kept: reached from a ref or its history, or younger than the grace period. */
  liveManifests: number;
  /** Chunk ids those manifests name, boot files' included (with repeats). */
  liveChunks: number;
  /** How many objects nothing reaches, and their bytes. */
  dead: number;
  deadBytes: number;
  deleted: number;
}

/** What a collection reads and deletes: an edge, with the publish token. */
export type GcStore = Pick<
  EdgeTarget,
  | "where"
  | "rootfsNames"
  | "getRef"
  | "getManifest"
  | "getPendingManifest"
  | "listObjects"
  | "deleteObject"
>;

export interface GcOptions {
  edge: GcStore;
  /** Objects younger than this are never swept, reached or not: a publish in progress. */
  graceMs: number;
  dryRun: boolean;
  now?: () => number;
  log?: (line: string) => void;
  /** Told of every object found dead, as it is found (and deleted, unless a dry run). */
  onDead?: (object: DeadObject) => void;
}

/**
 * Garbage collection of an edge's store, in bounded memory. Marks every manifest a ref reaches
 * (its current one and its retained history), every manifest younger than the grace period,
 * pending ones included (a publish whose chunk check is under way), and every chunk those
 * manifests name, their boot files' included (in a fixed-size filter); then sweeps, a listing
 * page at a time, what is older than the grace period and not marked: manifests first, then
 * pending manifests (a publish abandoned for longer than the grace period), then chunks, so no
 * stored manifest ever names a deleted chunk. Before each page is deleted, refs and manifests are
 * read again and anything they now reach is marked, so a publish that finished meanwhile loses
 * nothing. Rerunning after an interruption finishes the job. Every manifest read is checked
 * against its id before its chunks are marked: one that does not match stops the collection
 * with a PublishError before anything more is deleted (wrong bytes would make live chunks look
 * dead).
 */
export async function collectGarbage(options: GcOptions): Promise<GcResult> {
  const now = options.now ?? Date.now;
  const cutoff = now() - options.graceMs;
  const live: Live = { refs: 0, manifests: new Set(), chunks: new IdFilter(), listed: 0 };
  const result: GcResult = {
    refs: 0,
    liveManifests: 0,
    liveChunks: 0,
    dead: 0,
    deadBytes: 0,
    deleted: 0,
  };
  await mark(options, cutoff, live, result);
  for (const kind of ["manifests", "pending", "chunks"] as const) {
    for await (const page of pages(options.edge, kind)) {
      await mark(options, cutoff, live, result);
      const dead = page
        .filter((o) => Date.parse(o.uploaded) <= cutoff)
        .filter((o) => (kind === "chunks" ? !live.chunks.has(o.id) : !live.manifests.has(o.id)))
        .map((o) => ({ kind, ...o }));
      result.dead += dead.length;
      result.deadBytes += dead.reduce((n, o) => n + o.size, 0);
      for (const object of dead) options.onDead?.(object);
      if (!options.dryRun) result.deleted += await sweep(options.edge, dead);
    }
  }
  result.refs = live.refs;
  result.liveManifests = live.manifests.size;
  result.liveChunks = live.listed;
  return result;
}

interface Live {
  refs: number;
  manifests: Set<string>;
  chunks: IdFilter;
  /** Chunk ids added from the live manifests. */
  listed: number;
}

/** Adds to `live` what the refs reach now, and every manifest younger than `cutoff`. */
async function mark(
  options: GcOptions,
  cutoff: number,
  live: Live,
  result: GcResult,
): Promise<void> {
  const reached = new Set<string>();
  const names = await options.edge.rootfsNames();
  live.refs = names.length;
  for (const name of names) {
    const current = await options.edge.getRef(name);
    if (!current) continue;
    reached.add(current.ref.manifest);
    for (const id of current.ref.previous) reached.add(id);
  }
  for (const kind of ["manifests", "pending"] as const) {
    for await (const page of pages(options.edge, kind)) {
      for (const object of page) if (Date.parse(object.uploaded) > cutoff) reached.add(object.id);
    }
  }
  for (const id of reached) {
    if (live.manifests.has(id)) continue;
    // A young manifest may be pending (its check under way) or have completed since it was listed.
    const bytes =
      (await options.edge.getManifest(id)) ?? (await options.edge.getPendingManifest(id));
    if (!bytes) {
      options.log?.(`manifest ${id} is reached from a ref but not stored`);
      continue;
    }
    const actual = await manifestId(bytes);
    if (actual !== id) {
      const stopped =
        result.deleted === 0
          ? "nothing was deleted"
          : `gc stopped after deleting ${result.deleted} objects no ref reached, before deleting more`;
      throw new PublishError(
        `manifest ${id} read from ${options.edge.where} hashes to ${actual}, not to its id: the edge (or a cache or proxy in front of it) served wrong bytes, and marking with them could delete live chunks. ${stopped}; check what serves ${options.edge.where} and run gc again`,
      );
    }
    live.manifests.add(id);
    for (const chunk of allChunkIds(decodeManifest(bytes))) {
      live.chunks.add(chunk);
      live.listed++;
    }
  }
}

async function sweep(edge: GcStore, dead: DeadObject[]): Promise<number> {
  await forEachLimited(dead, DELETES_IN_FLIGHT, (object) =>
    edge.deleteObject(object.kind === "chunks" ? "chunks" : "manifests", object.id),
  );
  return dead.length;
}

async function* pages(edge: GcStore, kind: ObjectListing) {
  let cursor: string | undefined;
  do {
    const page = await edge.listObjects(kind, cursor);
    yield page.objects;
    cursor = page.cursor;
  } while (cursor);
}
