import { decodeManifest } from "../format/manifest.js";
import type { EdgeTarget } from "./edge-target.js";

/** Objects deleted at once. */
const DELETES_IN_FLIGHT = 8;

/** One stored object that nothing reaches. */
export interface DeadObject {
  kind: "chunks" | "manifests";
  id: string;
  size: number;
  uploaded: string;
}

/** What a collection found (and, unless a dry run, deleted). */
export interface GcResult {
  refs: number;
  /** Manifests kept: reached from a ref or its history, or younger than the grace period. */
  liveManifests: number;
  liveChunks: number;
  dead: DeadObject[];
  deadBytes: number;
  deleted: number;
}

export interface GcOptions {
  edge: EdgeTarget;
  /** Objects younger than this are never swept, reached or not: a publish in progress. */
  graceMs: number;
  dryRun: boolean;
  now?: () => number;
  log?: (line: string) => void;
  onDeleted?: (done: number, total: number) => void;
}

/**
 * Garbage collection of an edge's store. Marks every manifest a ref reaches (its current one and
 * its retained history) and every manifest younger than the grace period, then every chunk those
 * manifests list; sweeps the rest that is older than the grace period: manifests first, then
 * chunks, so that no stored manifest ever lists a deleted chunk. Listings are read a page at a
 * time. Just before sweeping, the refs and the manifests are read again and anything they now
 * reach is spared, so a publish that finished during the collection loses nothing. Rerunning
 * after an interruption finishes the job.
 */
export async function collectGarbage(options: GcOptions): Promise<GcResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const cutoff = started - options.graceMs;
  const live = await mark(options, cutoff);
  const dead: DeadObject[] = [];
  for await (const object of listAll(options.edge, "manifests")) {
    if (!live.manifests.has(object.id) && Date.parse(object.uploaded) <= cutoff) {
      dead.push({ kind: "manifests", ...object });
    }
  }
  for await (const object of listAll(options.edge, "chunks")) {
    if (!live.chunks.has(object.id) && Date.parse(object.uploaded) <= cutoff) {
      dead.push({ kind: "chunks", ...object });
    }
  }
  const again = await mark(options, cutoff, live);
  const sweep = dead.filter((o) =>
    o.kind === "chunks" ? !again.chunks.has(o.id) : !again.manifests.has(o.id),
  );
  const result: GcResult = {
    refs: again.refs,
    liveManifests: again.manifests.size,
    liveChunks: again.chunks.size,
    dead: sweep,
    deadBytes: sweep.reduce((n, o) => n + o.size, 0),
    deleted: 0,
  };
  if (options.dryRun) return result;
  const ordered = [
    ...sweep.filter((o) => o.kind === "manifests"),
    ...sweep.filter((o) => o.kind === "chunks"),
  ];
  let next = 0;
  const worker = async () => {
    while (next < ordered.length) {
      const object = ordered[next++] as DeadObject;
      await options.edge.deleteObject(object.kind, object.id);
      result.deleted++;
      options.onDeleted?.(result.deleted, ordered.length);
    }
  };
  await Promise.all(Array.from({ length: DELETES_IN_FLIGHT }, worker));
  return result;
}

interface Live {
  refs: number;
  manifests: Set<string>;
  chunks: Set<string>;
}

/** What the refs reach, plus every manifest younger than `cutoff`, added to `into`. */
async function mark(options: GcOptions, cutoff: number, into?: Live): Promise<Live> {
  const live: Live = into ?? { refs: 0, manifests: new Set(), chunks: new Set() };
  const reached = new Set<string>();
  const names = await options.edge.rootfsNames();
  live.refs = names.length;
  for (const name of names) {
    const current = await options.edge.getRef(name);
    if (!current) continue;
    reached.add(current.ref.manifest);
    for (const id of current.ref.previous) reached.add(id);
  }
  for await (const object of listAll(options.edge, "manifests")) {
    if (Date.parse(object.uploaded) > cutoff) reached.add(object.id);
  }
  for (const id of reached) {
    if (live.manifests.has(id)) continue;
    const bytes = await options.edge.getManifest(id);
    if (!bytes) {
      options.log?.(`manifest ${id} is reached from a ref but not stored`);
      continue;
    }
    live.manifests.add(id);
    for (const chunk of decodeManifest(bytes).chunks) live.chunks.add(chunk);
  }
  return live;
}

async function* listAll(edge: EdgeTarget, kind: "chunks" | "manifests") {
  let cursor: string | undefined;
  do {
    const page = await edge.listObjects(kind, cursor);
    yield* page.objects;
    cursor = page.cursor;
  } while (cursor);
}
