import { EDGE_API } from "../../format/api.js";
import { sha256Hex } from "../../format/hex.js";
import { formatChunking, type Manifest } from "../../format/manifest.js";
import type { Ref, RootfsSummary } from "../../format/ref.js";
import type { AppContext } from "../context.js";
import { rootfsScriptUrl } from "../ipxe.js";
import { readManifest } from "../reads/manifests.js";
import { listSummaries, readRef } from "../reads/refs.js";
import { manifestKey } from "../storage/index.js";
import { bootCommands, type Command, readCommands } from "./commands.js";

/**
 * How much the dashboard may read for one request, besides listing the refs: storage and cache
 * operations (a ref is one read, an older version's manifest HEAD one, a manifest body two: the
 * cache, then storage), and manifest chunks parsed (CPU and memory: a manifest is about 67 bytes a
 * chunk). What the bounds leave out is said on the page and in the JSON (`detail`).
 */
export interface ReadBounds {
  /** Storage and cache operations (HOME_MAX_READS, or less when the request's budget is lower). */
  operations: number;
  /** Chunks of manifest bodies read in all (HOME_MAX_MANIFEST_CHUNKS). */
  manifestChunks: number;
}

/** At most this many operations for the dashboard's reads (the refs' listing aside). */
export const HOME_MAX_READS = 40;
/** At most this many chunks of manifest bodies parsed per request (about 4.4 MB of JSON). */
export const HOME_MAX_MANIFEST_CHUNKS = 65_536;
/** Versions shown per rootfs: the current one and the ones before it, newest first. */
export const HOME_HISTORY_VERSIONS = 4;

/** One version of a rootfs, as far as it was read. */
export interface VersionFacts {
  manifest: string;
  /** The ref's publish time (current version), or when the manifest was stored (older ones). */
  published?: string;
  size?: number;
  chunks?: number;
  /** Chunks of this version not in the version before it, and their bytes (when both were read). */
  newChunks?: number;
  newBytes?: number;
  codec?: string;
  chunking?: string;
}

/** A rootfs with everything the dashboard shows of it. */
export interface RootfsDetail extends RootfsSummary {
  /** The signer's raw Ed25519 key (base64) and its fingerprint: lowercase hex SHA-256 of it. */
  key?: { raw: string; fingerprint: string };
  /** Length of the manifest's prefetch list (0: none), when the manifest was read. */
  prefetch?: number;
  /** The boot files' sizes and the publisher's kernel arguments, when the manifest was read. */
  boot?: { kernel: number; initrd?: number; cmdline: string };
  /** Newest first: the current version, then up to HOME_HISTORY_VERSIONS - 1 before it. */
  history: VersionFacts[];
  /** How many earlier versions the ref keeps (its `previous` ids). */
  previousVersions: number;
  /** "complete", or what the read bounds left out. */
  detail: string;
  links: Record<string, string>;
  commands: { boot: Command[]; read: Command[] };
}

/** Everything the dashboard shows. */
export interface DashboardData {
  origin: string;
  rootfs: RootfsDetail[];
  /** The bounds this request read within, and the operations it made. */
  reads: ReadBounds & { used: number };
}

/** What is left of the request's read bounds; each read is taken from it before it is made. */
class Allowance {
  used = 0;
  chunks = 0;
  constructor(readonly bounds: ReadBounds) {}
  take(operations: number, chunks = 0): boolean {
    if (this.used + operations > this.bounds.operations) return false;
    if (this.chunks + chunks > this.bounds.manifestChunks) return false;
    this.used += operations;
    this.chunks += chunks;
    return true;
  }
}

/**
 * Gathers the dashboard's facts: one listing of the refs, then, within `limits` and what
 * `budgetLeft()` says the request may still do, and in this order
 * so that what matters most is read first: every ref (signer, history ids), every current
 * manifest (prefetch, boot files, codec), the manifest before each (dedup), and HEADs of older ones.
 */
export async function gatherDashboard(
  c: AppContext,
  origin: string,
  limits: ReadBounds,
  budgetLeft: () => number,
): Promise<DashboardData> {
  const summaries = await listSummaries(c.var.storage);
  // Whatever the request's own budget still allows after the listing, less one to spare.
  const bounds = {
    ...limits,
    operations: Math.max(0, Math.min(limits.operations, budgetLeft() - 1)),
  };
  const allowance = new Allowance(bounds);
  const rows = summaries.map((summary) => ({ summary, ref: undefined as Ref | undefined }));
  const manifests = new Map<string, Manifest>();
  for (const row of rows) {
    if (!allowance.take(1)) break;
    row.ref = (await readRef(c.var.storage, row.summary.name))?.ref;
  }
  const readBody = async (id: string, chunks: number) => {
    if (manifests.has(id) || !allowance.take(3, chunks)) return;
    manifests.set(id, (await readManifest(c.var, id)).manifest);
  };
  for (const { summary } of rows) await readBody(summary.manifest, summary.chunks);
  for (const { summary, ref } of rows) {
    const previous = ref?.previous[0];
    // An older version's chunk count is not known before reading it: assume the current one's.
    if (previous) await readBody(previous, summary.chunks);
  }
  const heads = new Map<string, { size: number; chunks: number; uploaded: string }>();
  for (const { ref } of rows) {
    for (const id of ref?.previous.slice(1, HOME_HISTORY_VERSIONS - 1) ?? []) {
      if (!allowance.take(1)) break;
      const info = await c.var.storage.head(manifestKey(id));
      if (info) {
        const meta = info.customMetadata;
        heads.set(id, {
          size: Number(meta.size ?? 0),
          chunks: Number(meta.chunks ?? 0),
          uploaded: info.uploaded.toISOString(),
        });
      }
    }
  }
  const rootfs = await Promise.all(
    rows.map(({ summary, ref }) => detail(origin, summary, ref, manifests, heads)),
  );
  return { origin, rootfs, reads: { ...bounds, used: allowance.used } };
}

async function detail(
  origin: string,
  summary: RootfsSummary,
  ref: Ref | undefined,
  manifests: Map<string, Manifest>,
  heads: Map<string, { size: number; chunks: number; uploaded: string }>,
): Promise<RootfsDetail> {
  const { name } = summary;
  const current = manifests.get(summary.manifest);
  const ids = [summary.manifest, ...(ref?.previous ?? [])].slice(0, HOME_HISTORY_VERSIONS);
  const history = ids.map((id, i): VersionFacts => {
    const manifest = manifests.get(id);
    const head = heads.get(id);
    const facts: VersionFacts = { manifest: id };
    if (i === 0) facts.published = summary.published;
    else if (head) facts.published = head.uploaded;
    if (manifest) {
      facts.size = manifest.size;
      facts.chunks = manifest.chunks.length;
      facts.codec = manifest.codec;
      facts.chunking = formatChunking(manifest.chunking);
      facts.published ??= manifest.created;
    } else if (head) {
      facts.size = head.size;
      facts.chunks = head.chunks;
    } else if (i === 0) {
      facts.size = summary.size;
      facts.chunks = summary.chunks;
    }
    const before = manifests.get(ids[i + 1] ?? "");
    if (manifest && before) Object.assign(facts, newAgainst(manifest, before));
    return facts;
  });
  const missing: string[] = [];
  if (!ref) missing.push("the ref (signer, history)");
  if (!current) missing.push("the current manifest (prefetch, boot files, codec)");
  const links: Record<string, string> = {
    ref: origin + EDGE_API.ref.path(name),
    manifest: origin + EDGE_API.manifest.path(summary.manifest),
    image: origin + EDGE_API.rootfsImage.path(name),
    caibx: origin + EDGE_API.rootfsCaibx.path(name),
  };
  if (summary.bootable) {
    Object.assign(links, {
      bootIpxe: rootfsScriptUrl(origin, name),
      kernel: origin + EDGE_API.rootfsBootFile.path(name, "kernel"),
    });
    if (current?.boot?.initrd) links.initrd = origin + EDGE_API.rootfsBootFile.path(name, "initrd");
  }
  const facts = { origin, name, signed: summary.signed, bootable: summary.bootable };
  const row: RootfsDetail = {
    ...summary,
    history,
    previousVersions: ref?.previous.length ?? 0,
    detail: missing.length
      ? `not read, to keep this page's reads bounded: ${missing.join("; ")}`
      : "complete",
    links,
    commands: { boot: bootCommands(facts), read: readCommands(facts) },
  };
  if (ref?.signature)
    row.key = { raw: ref.signature.key, fingerprint: await fingerprint(ref.signature.key) };
  if (current) {
    row.prefetch = current.prefetch?.length ?? 0;
    if (current.boot) {
      row.boot = {
        kernel: current.boot.kernel.size,
        initrd: current.boot.initrd?.size,
        cmdline: current.boot.cmdline,
      };
    }
  }
  return row;
}

/** Chunks of `manifest` that `before` lacks, and their bytes. */
function newAgainst(manifest: Manifest, before: Manifest): { newChunks: number; newBytes: number } {
  const old = new Set(before.chunks);
  const seen = new Set<string>();
  let newChunks = 0;
  let newBytes = 0;
  manifest.chunks.forEach((id, i) => {
    if (old.has(id) || seen.has(id)) return;
    seen.add(id);
    newChunks++;
    newBytes += manifest.lengths[i] ?? 0;
  });
  return { newChunks, newBytes };
}

/** Lowercase hex SHA-256 of the raw key whose base64 is `key`. */
async function fingerprint(key: string): Promise<string> {
  const raw = Uint8Array.from(atob(key), (ch) => ch.charCodeAt(0));
  return sha256Hex(raw);
}
