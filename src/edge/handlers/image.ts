import { caibxSize, encodeCaibx } from "../../format/caibx.js";
import { FormatError } from "../../format/errors.js";
import { sha256Hex } from "../../format/hex.js";
import { chunkOffsets, decodeManifest, type Manifest } from "../../format/manifest.js";
import { cacheKey } from "../cache/index.js";
import { chunkSpanProblem, edgeCaps } from "../caps.js";
import { type AppContext, background } from "../context.js";
import { notFound } from "../http/problem.js";
import { IMMUTABLE, type Representation, respond, type SpanLimit } from "../http/respond.js";
import { type ChunkList, chunkListRange } from "../image.js";
import { manifestKey } from "../storage/index.js";
import { serveChunk } from "./chunks.js";
import { manifestIdParam, rootfsNameParam } from "./params.js";
import { REF_CACHE_CONTROL, resolveRef } from "./refs.js";

/** Default bound on one `/image` response: see `Env.IMAGE_MAX_RESPONSE_BYTES`. */
export const DEFAULT_IMAGE_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Parsed manifests kept by this isolate, most recently used last: parsing a large one costs CPU. */
const MANIFEST_MEMO_SIZE = 16;
const manifestMemo = new Map<string, { manifest: Manifest; offsets: number[] }>();

/** An image, index or boot file picked by manifest id (immutable) or by rootfs name (follows the ref). */
export interface Target {
  manifestId: string;
  cacheControl: string;
  lastModified?: Date;
}

/** GET and HEAD `/v1/manifests/:id/image`: the decompressed image; immutable. */
export function getManifestImage(c: AppContext): Promise<Response> {
  return serveImage(c, byManifest(c));
}

/** GET and HEAD `/v1/rootfs/:name/image`: the image the ref points at now; short cache. */
export async function getRootfsImage(c: AppContext): Promise<Response> {
  return serveImage(c, await byName(c));
}

/** GET and HEAD `/v1/manifests/:id/index.caibx`: the manifest as a casync blob index. */
export function getManifestCaibx(c: AppContext): Promise<Response> {
  return serveCaibx(c, byManifest(c));
}

/** GET and HEAD `/v1/rootfs/:name/index.caibx`: the current manifest as a casync blob index. */
export async function getRootfsCaibx(c: AppContext): Promise<Response> {
  return serveCaibx(c, await byName(c));
}

/**
 * GET and HEAD `/v1/castr/:prefix/:id.cacnk`: a chunk under casync's store layout, where
 * `:prefix` is the first four hex digits of the id. Any other path is 404.
 */
export function getCastrChunk(c: AppContext): Promise<Response> {
  const file = c.req.param("file") ?? "";
  const match = /^([0-9a-f]{64})\.cacnk$/.exec(file);
  const id = match?.[1];
  if (!id || c.req.param("prefix") !== id.slice(0, 4)) {
    throw notFound(`a casync store path is /v1/castr/<first 4 hex digits>/<64 hex digits>.cacnk`);
  }
  return serveChunk(c, id);
}

/** The manifest named by `:id`: immutable, cached for a year. */
export function byManifest(c: AppContext): Target {
  return { manifestId: manifestIdParam(c), cacheControl: IMMUTABLE };
}

/** The current manifest of rootfs `:name` (404 if none): short cache, modified when published. */
export async function byName(c: AppContext): Promise<Target> {
  const name = rootfsNameParam(c);
  const ref = await resolveRef(c.var.storage, name);
  if (!ref) throw notFound(`no rootfs named "${name}" is published here`);
  return {
    manifestId: ref.manifest,
    cacheControl: REF_CACHE_CONTROL,
    lastModified: new Date(ref.published),
  };
}

async function serveImage(c: AppContext, target: Target): Promise<Response> {
  const { manifest, offsets } = await loadManifest(c, target.manifestId);
  return serveChunkList(c, {
    list: manifest,
    offsets,
    size: manifest.size,
    etag: `"${target.manifestId}"`,
    lastModified: target.lastModified ?? new Date(manifest.created),
    cacheControl: target.cacheControl,
    what: `image of manifest ${target.manifestId}`,
  });
}

/** Content assembled from verified chunks at the edge, and how to answer for it. */
export interface AssembledContent {
  list: ChunkList;
  /** `chunkOffsets(list)`. */
  offsets: readonly number[];
  size: number;
  /** A quoted strong entity-tag. */
  etag: string;
  lastModified: Date;
  cacheControl: string;
  /** Names the content in logs, e.g. `kernel of manifest <id>`. */
  what: string;
}

/**
 * Answers GET or HEAD for content assembled from chunks (an image, a boot file) with every rule
 * of `respond()`: the bytes of a range are made on demand by `chunkListRange`, every chunk
 * verified before it is sent, and one response carries at most IMAGE_MAX_RESPONSE_BYTES and
 * spans at most `chunksPerResponse` chunks (what the request's operation budget allows).
 */
export function serveChunkList(c: AppContext, content: AssembledContent): Response {
  const services = {
    storage: c.var.storage,
    cache: c.var.cache,
    requestUrl: c.req.url,
    waitUntil: background(c),
  };
  const rep: Representation = {
    size: content.size,
    etag: content.etag,
    lastModified: content.lastModified,
    contentType: "application/octet-stream",
    cacheControl: content.cacheControl,
    body: null,
    open: (start, end) =>
      chunkListRange(content.list, start, end, services, content.offsets, content.what),
    maxBodyBytes: imageResponseLimit(c.env.IMAGE_MAX_RESPONSE_BYTES),
    spanLimit: chunkLimit(content.offsets, edgeCaps(c.var.budget.limit).chunksPerResponse),
  };
  return respond(c.req.raw, rep);
}

/** `Representation.spanLimit` of content cut at `offsets`, `cap` chunks a response. */
function chunkLimit(offsets: readonly number[], cap: number) {
  return (start: number, end: number): SpanLimit | undefined => {
    const problem = chunkSpanProblem(offsets, start, end, cap);
    if (!problem) return undefined;
    return {
      reason: `these bytes span ${problem.chunks} chunks, and one response of this edge reads at most ${cap} (GET / lists it as limits.chunksPerResponse)`,
      lastAllowed: problem.lastAllowed,
      extra: { chunksPerResponse: cap },
    };
  };
}

function imageResponseLimit(configured: string | undefined): number {
  const value = Number(configured);
  return configured && Number.isSafeInteger(value) && value > 0
    ? value
    : DEFAULT_IMAGE_MAX_RESPONSE_BYTES;
}

async function serveCaibx(c: AppContext, target: Target): Promise<Response> {
  const { manifest } = await loadManifest(c, target.manifestId);
  const index = encodeCaibx(manifest);
  return respond(c.req.raw, {
    size: caibxSize(manifest.chunks.length),
    etag: `"${target.manifestId}"`,
    lastModified: target.lastModified ?? new Date(manifest.created),
    contentType: "application/octet-stream",
    cacheControl: target.cacheControl,
    body: new Blob([index]).stream(),
  });
}

/**
 * Manifest `id`, parsed: from this isolate's memo, else the cache, else storage, and checked
 * against its id (the image must match what the id names).
 */
export async function loadManifest(
  c: AppContext,
  id: string,
): Promise<{ manifest: Manifest; offsets: number[] }> {
  const memo = manifestMemo.get(id);
  if (memo) {
    manifestMemo.delete(id);
    manifestMemo.set(id, memo);
    return memo;
  }
  const cached = await c.var.cache.match(cacheKey(c.req.url, `/v1/manifests/${id}`));
  let bytes: Uint8Array;
  if (cached?.body) {
    bytes = new Uint8Array(await cached.arrayBuffer());
  } else {
    const stored = await c.var.storage.get(manifestKey(id));
    if (!stored) throw notFound(`no manifest ${id} is stored here`);
    bytes = new Uint8Array(await new Response(stored.body).arrayBuffer());
  }
  if ((await sha256Hex(bytes)) !== id)
    throw new FormatError(`stored manifest ${id} does not match its id`);
  const manifest = decodeManifest(bytes);
  const entry = { manifest, offsets: chunkOffsets(manifest) };
  manifestMemo.set(id, entry);
  for (const oldest of manifestMemo.keys()) {
    if (manifestMemo.size <= MANIFEST_MEMO_SIZE) break;
    manifestMemo.delete(oldest);
  }
  return entry;
}
