import { caibxSize, encodeCaibx } from "../../format/caibx.js";
import { type ChunkList, chunkListRange } from "../assembly.js";
import { chunkSpanProblem, edgeCaps } from "../caps.js";
import type { AppContext } from "../context.js";
import { notFound } from "../http/problem.js";
import { IMMUTABLE, type Representation, respond, type SpanLimit } from "../http/respond.js";
import { readManifest } from "../reads/manifests.js";
import { resolveRef } from "../reads/refs.js";
import { manifestIdParam, rootfsNameParam } from "./params.js";
import { REF_CACHE_CONTROL } from "./refs.js";

/**
 * The disk image of a manifest, by id (immutable) or by rootfs name (following its ref): assembled
 * from verified chunks (`/image`), or as casync's blob index of its chunks (`index.caibx`); and
 * how any content assembled from chunks is answered (`serveAssembled`, boot files' too).
 */

/** Default bound on one `/image` response: see `Env.IMAGE_MAX_RESPONSE_BYTES`. */
export const DEFAULT_IMAGE_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

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
  const { manifest, offsets } = await readManifest(c.var, target.manifestId);
  return serveAssembled(c, {
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
export function serveAssembled(c: AppContext, content: AssembledContent): Response {
  const services = c.var;
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
  const { manifest } = await readManifest(c.var, target.manifestId);
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
