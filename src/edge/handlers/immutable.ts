import type { ResponseCache } from "../cache/index.js";
import { cacheKey } from "../cache/index.js";
import { notFound } from "../http/problem.js";
import { IMMUTABLE, type Representation, respond } from "../http/respond.js";
import type { ObjectInfo, ObjectStorage } from "../storage/index.js";

/** Everything needed to serve one content-addressed object. */
export interface ImmutableObject {
  /** Storage key, e.g. `chunks/<id>`. */
  key: string;
  /** Canonical path on this edge; also the cache key. */
  path: string;
  /** The object's id: its strong ETag is `"<id>"`. */
  id: string;
  contentType: string;
  /** What to call it in a 404, e.g. `chunk 3f…`. */
  label: string;
}

interface Services {
  storage: ObjectStorage;
  cache: ResponseCache;
  waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * Serves a chunk or a manifest, through the Cache API: a hit never touches storage; a GET that
 * misses reads the whole object once, answers from it and fills the cache in the background. Only
 * full 200s are cached; ranges and conditionals are always answered here from the full object.
 */
export async function serveImmutable(
  request: Request,
  object: ImmutableObject,
  { storage, cache, waitUntil }: Services,
): Promise<Response> {
  const key = cacheKey(request.url, object.path);
  const cached = await cache.match(key);
  if (cached?.body) return respond(request, fromCache(cached, object));
  if (request.method === "HEAD") {
    const info = await storage.head(object.key);
    if (!info) throw notFound(`no ${object.label} is stored here`);
    return respond(request, representation(info, object, null, "fwd=miss"));
  }
  const stored = await storage.get(object.key);
  if (!stored) throw notFound(`no ${object.label} is stored here`);
  // Read whole (a frame is at most 8 MiB + 64 KiB, a manifest 24 MiB), then answered and cached
  // from the same buffer: less CPU in workerd than teeing the R2 body (bench/results/edge.md).
  const bytes = await new Response(stored.body).arrayBuffer();
  const rep = representation(stored, object, new Response(bytes).body, "fwd=miss; stored");
  rep.lengthKnown = true;
  waitUntil(cache.put(key, cacheable(rep, bytes)).catch(() => {}));
  return respond(request, rep);
}

function representation(
  info: ObjectInfo,
  object: ImmutableObject,
  body: ReadableStream<Uint8Array> | null,
  cacheStatus: string,
): Representation {
  return {
    size: info.size,
    etag: `"${object.id}"`,
    lastModified: info.uploaded,
    contentType: object.contentType,
    cacheControl: IMMUTABLE,
    body,
    headers: { "Cache-Status": `edgeboot; ${cacheStatus}` },
  };
}

/**
 * Puts a whole object read from storage into the cache, as `serveImmutable` would have: for paths
 * that read an object without serving it (the image assembles chunks), so the next GET is a hit.
 */
export function cacheObject(
  cache: ResponseCache,
  requestUrl: string,
  object: ImmutableObject,
  info: ObjectInfo,
  bytes: Uint8Array,
): Promise<void> {
  const rep = representation(info, object, null, "fwd=miss; stored");
  return cache.put(cacheKey(requestUrl, object.path), cacheable(rep, bytes));
}

function cacheable(rep: Representation, body: ArrayBuffer | Uint8Array): Response {
  const headers = new Headers({
    "Content-Type": rep.contentType,
    "Content-Length": String(rep.size),
    ETag: rep.etag,
    "Cache-Control": rep.cacheControl,
  });
  if (rep.lastModified) headers.set("Last-Modified", rep.lastModified.toUTCString());
  return new Response(body, { headers });
}

function fromCache(cached: Response, object: ImmutableObject): Representation {
  const lastModified = cached.headers.get("Last-Modified");
  return {
    size: Number(cached.headers.get("Content-Length")),
    etag: `"${object.id}"`,
    lastModified: lastModified ? new Date(lastModified) : undefined,
    contentType: object.contentType,
    cacheControl: IMMUTABLE,
    body: cached.body,
    lengthKnown: true,
    headers: { "Cache-Status": "edgeboot; hit" },
  };
}
