import { EDGE_API } from "../../format/api.js";
import type { RequestServices } from "../context.js";
import { IMMUTABLE } from "../http/respond.js";
import {
  CHUNK_PREFIX,
  chunkKey,
  MANIFEST_PREFIX,
  manifestKey,
  type ObjectInfo,
} from "../storage/index.js";

/**
 * The edge's one way to read a content-addressed object (a chunk's frame, a manifest): through
 * this data center's cache, then storage, and back into the cache once the reader has what it
 * needs (a verified chunk, a body being served). Every operation goes through the request's
 * metered storage and cache, so each is counted against its budget.
 */

/** The services a read uses: the request's, as the app's middleware set them. */
export type ReadServices = Pick<RequestServices, "storage" | "cache" | "requestUrl" | "waitUntil">;

/** A kind of content-addressed object: where it is stored, where it is served, as what. */
export interface ObjectKind {
  /** What one is called in messages: `chunk`, `manifest`. */
  readonly name: string;
  /** The storage key prefix of every object of the kind. */
  readonly keyPrefix: string;
  /** The storage key of object `id`. */
  readonly key: (id: string) => string;
  /** The canonical path of object `id` on this edge, which is also its cache key. */
  readonly path: (id: string) => string;
  readonly contentType: string;
  /**
   * Whether a whole GET may be answered gzip-encoded (http/encoding.ts): a manifest's JSON, not a
   * chunk's frame, which is compressed already (and served with no Content-Encoding).
   */
  readonly compressible: boolean;
}

/** A chunk's compressed frame, byte for byte as uploaded. */
export const CHUNK: ObjectKind = {
  name: "chunk",
  keyPrefix: CHUNK_PREFIX,
  key: chunkKey,
  path: EDGE_API.chunk.path,
  contentType: "application/octet-stream",
  compressible: false,
};

/** A complete manifest document, byte for byte as published. */
export const MANIFEST: ObjectKind = {
  name: "manifest",
  keyPrefix: MANIFEST_PREFIX,
  key: manifestKey,
  path: EDGE_API.manifest.path,
  contentType: "application/json",
  compressible: true,
};

/** An object read whole from storage, not yet in the cache. */
export interface StoredRead {
  info: ObjectInfo;
  bytes: Uint8Array;
  /**
   * Puts the bytes in the cache in the background (one cache operation), as a full 200 of the
   * object's path would be: call it once they are known good, so the next read is a hit.
   */
  fill(): void;
}

/** An object's bytes through the cache; `fill` when they came from storage. */
export interface ThroughRead {
  bytes: Uint8Array;
  fill?: () => void;
}

/** This data center's cached copy of object `id`, if it has one: one cache operation. */
export async function cachedObject(
  services: ReadServices,
  kind: ObjectKind,
  id: string,
): Promise<Response | undefined> {
  const cached = await services.cache.match(cacheKey(services, kind, id));
  return cached?.body ? cached : undefined;
}

/** Object `id` read whole from storage (one storage operation), or undefined when absent. */
export async function storedObject(
  services: ReadServices,
  kind: ObjectKind,
  id: string,
): Promise<StoredRead | undefined> {
  const stored = await services.storage.get(kind.key(id));
  if (!stored) return undefined;
  // Read whole (a frame is at most 8 MiB + 64 KiB, a manifest 24 MiB), then used and cached from
  // the same buffer: less CPU in workerd than teeing the R2 body (bench/results/edge.md).
  const bytes = new Uint8Array(await new Response(stored.body).arrayBuffer());
  const fill = () => {
    const response = cacheable(kind, id, stored, bytes);
    services.waitUntil(services.cache.put(cacheKey(services, kind, id), response).catch(() => {}));
  };
  return { info: stored, bytes, fill };
}

/**
 * Object `id`'s bytes: the cached copy (one operation), else storage's (two), with `fill` to put
 * them in the cache once the reader has checked them (a third). Undefined when neither has it.
 */
export async function readThrough(
  services: ReadServices,
  kind: ObjectKind,
  id: string,
): Promise<ThroughRead | undefined> {
  const cached = await cachedObject(services, kind, id);
  if (cached) return { bytes: new Uint8Array(await cached.arrayBuffer()) };
  return storedObject(services, kind, id);
}

/** Drops this data center's cached copy of object `id` (one cache operation; failures ignored). */
export function forgetCached(
  services: ReadServices,
  kind: ObjectKind,
  id: string,
): Promise<boolean> {
  return services.cache.delete(cacheKey(services, kind, id)).catch(() => false);
}

/** The cache key of object `id`: its canonical URL on this edge, as a bare GET. */
function cacheKey(services: ReadServices, kind: ObjectKind, id: string): Request {
  return new Request(new URL(kind.path(id), services.requestUrl).toString(), { method: "GET" });
}

/** The full 200 the cache holds for object `id`: its bytes and the headers a hit is served from. */
function cacheable(kind: ObjectKind, id: string, info: ObjectInfo, bytes: Uint8Array): Response {
  const headers = new Headers({
    "Content-Type": kind.contentType,
    "Content-Length": String(info.size),
    ETag: `"${id}"`,
    "Cache-Control": IMMUTABLE,
  });
  headers.set("Last-Modified", info.uploaded.toUTCString());
  return new Response(bytes, { headers });
}
