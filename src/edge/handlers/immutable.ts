import { notFound } from "../http/problem.js";
import { IMMUTABLE, type Representation, respond } from "../http/respond.js";
import {
  cachedObject,
  type ObjectKind,
  type ReadServices,
  storedObject,
} from "../reads/objects.js";
import type { ObjectInfo } from "../storage/index.js";

/**
 * Serves object `id` of `kind` (a chunk, a manifest), read through the cache (`reads/objects.ts`):
 * a hit never touches storage; a GET that misses reads the whole object once, answers from it and
 * fills the cache in the background. Only full 200s are cached; ranges and conditionals are
 * always answered here from the full object. Its strong ETag is `"<id>"`.
 */
export async function serveImmutable(
  request: Request,
  kind: ObjectKind,
  id: string,
  services: ReadServices,
): Promise<Response> {
  const cached = await cachedObject(services, kind, id);
  if (cached) return respond(request, fromCache(cached, kind, id));
  if (request.method === "HEAD") {
    const info = await services.storage.head(kind.key(id));
    if (!info) throw absent(kind, id);
    return respond(request, representation(info, kind, id, null, "fwd=miss"));
  }
  const stored = await storedObject(services, kind, id);
  if (!stored) throw absent(kind, id);
  const body = new Response(stored.bytes).body;
  const rep = representation(stored.info, kind, id, body, "fwd=miss; stored");
  rep.lengthKnown = true;
  stored.fill();
  return respond(request, rep);
}

function absent(kind: ObjectKind, id: string) {
  return notFound(`no ${kind.name} ${id} is stored here`);
}

function representation(
  info: ObjectInfo,
  kind: ObjectKind,
  id: string,
  body: ReadableStream<Uint8Array> | null,
  cacheStatus: string,
): Representation {
  return {
    size: info.size,
    etag: `"${id}"`,
    lastModified: info.uploaded,
    contentType: kind.contentType,
    cacheControl: IMMUTABLE,
    body,
    headers: { "Cache-Status": `edgeboot; ${cacheStatus}` },
  };
}

function fromCache(cached: Response, kind: ObjectKind, id: string): Representation {
  const lastModified = cached.headers.get("Last-Modified");
  return {
    size: Number(cached.headers.get("Content-Length")),
    etag: `"${id}"`,
    lastModified: lastModified ? new Date(lastModified) : undefined,
    contentType: kind.contentType,
    cacheControl: IMMUTABLE,
    body: cached.body,
    lengthKnown: true,
    headers: { "Cache-Status": "edgeboot; hit" },
  };
}
