import { type ContentCoding, codingFor, entityTagFor, gzipEncoded } from "../http/encoding.js";
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
 * fills the cache in the background. Only full 200s are cached, always as the identity bytes;
 * ranges and conditionals are always answered here from the full object. Its strong ETag is
 * `"<id>"`. A compressible kind (a manifest) varies by Accept-Encoding: a whole GET that accepts
 * gzip is sent gzip-encoded with the weak ETag `W/"<id>"` (http/encoding.ts).
 */
export async function serveImmutable(
  request: Request,
  kind: ObjectKind,
  id: string,
  services: ReadServices,
): Promise<Response> {
  const coding = kind.compressible ? codingFor(request) : "identity";
  const answer = (rep: Representation) => encoded(respond(request, rep), coding);
  const cached = await cachedObject(services, kind, id);
  if (cached) return answer(fromCache(cached, kind, id, coding));
  if (request.method === "HEAD") {
    const info = await services.storage.head(kind.key(id));
    if (!info) throw absent(kind, id);
    return answer(representation(info, kind, id, null, "fwd=miss", coding));
  }
  const stored = await storedObject(services, kind, id);
  if (!stored) throw absent(kind, id);
  const body = new Response(stored.bytes).body;
  const rep = representation(stored.info, kind, id, body, "fwd=miss; stored", coding);
  rep.lengthKnown = true;
  stored.fill();
  return answer(rep);
}

function absent(kind: ObjectKind, id: string) {
  return notFound(`no ${kind.name} ${id} is stored here`);
}

/** A 200 sent in `coding`; any other answer (206, 304) stays as it is. */
function encoded(response: Response, coding: ContentCoding): Response {
  return coding === "gzip" && response.status === 200 ? gzipEncoded(response) : response;
}

function representation(
  info: ObjectInfo,
  kind: ObjectKind,
  id: string,
  body: ReadableStream<Uint8Array> | null,
  cacheStatus: string,
  coding: ContentCoding,
): Representation {
  return {
    size: info.size,
    etag: entityTagFor(`"${id}"`, coding),
    lastModified: info.uploaded,
    contentType: kind.contentType,
    cacheControl: IMMUTABLE,
    body,
    headers: headersOf(kind, `edgeboot; ${cacheStatus}`),
  };
}

function fromCache(
  cached: Response,
  kind: ObjectKind,
  id: string,
  coding: ContentCoding,
): Representation {
  const lastModified = cached.headers.get("Last-Modified");
  return {
    size: Number(cached.headers.get("Content-Length")),
    etag: entityTagFor(`"${id}"`, coding),
    lastModified: lastModified ? new Date(lastModified) : undefined,
    contentType: kind.contentType,
    cacheControl: IMMUTABLE,
    body: cached.body,
    lengthKnown: true,
    headers: headersOf(kind, "edgeboot; hit"),
  };
}

/** Cache-Status, and `Vary: Accept-Encoding` on every answer of a compressible kind. */
function headersOf(kind: ObjectKind, cacheStatus: string): Record<string, string> {
  const headers: Record<string, string> = { "Cache-Status": cacheStatus };
  if (kind.compressible) headers.Vary = "Accept-Encoding";
  return headers;
}
