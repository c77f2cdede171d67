import { trimOws } from "./field-text.js";

/**
 * Content codings (RFC 9110 §8.4, §12.5.3) for JSON the edge serves, as pure functions on header
 * values: a whole GET whose client accepts gzip is answered gzip-encoded; a Range request, a HEAD
 * and a client that does not ask get the identity bytes. The Worker only sets
 * `Content-Encoding: gzip`: workerd compresses the body as it sends it (`encodeBody: "automatic"`).
 *
 * Cloudflare may compress JSON on its way out by itself, but that depends on the zone's settings
 * (and it weakens or drops strong ETags as it likes); the Worker choosing the coding makes it hold
 * everywhere (any zone, workerd alone, Miniflare) with the ETag and Vary it promises, and testable
 * locally. Cloudflare sends the Worker `Accept-Encoding: br, gzip` whatever the client asked, and
 * the client's own value in `request.cf.clientAcceptEncoding` (Miniflare does the same): that is
 * the one read.
 */

/** The codings the edge sends: gzip when the request accepts it, else the bytes as stored. */
export type ContentCoding = "gzip" | "identity";

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The coding to send for an `Accept-Encoding` value (null when absent): gzip when it is acceptable
 * (q > 0, listed as `gzip`, `x-gzip` or covered by `*`) and not ranked below an explicitly listed
 * identity; else identity. No header means identity: casync, curl and the kernel's clients send
 * none and expect the bytes as stored. Elements with a malformed q-value are ignored.
 */
export function negotiateCoding(acceptEncoding: string | null): ContentCoding {
  if (acceptEncoding === null) return "identity";
  const weights = new Map<string, number>();
  for (const element of acceptEncoding.split(",")) {
    const [name = "", ...params] = element.split(";").map(trimOws);
    if (name === "") continue;
    const q = qvalueOf(params);
    if (q === undefined) continue;
    const coding = name.toLowerCase() === "x-gzip" ? "gzip" : name.toLowerCase();
    weights.set(coding, Math.max(weights.get(coding) ?? 0, q));
  }
  const gzip = weights.get("gzip") ?? weights.get("*") ?? 0;
  const identity = weights.get("identity");
  return gzip > 0 && (identity === undefined || gzip >= identity) ? "gzip" : "identity";
}

/**
 * The coding to answer `request` with, for a representation that may be sent gzip-encoded: gzip
 * only for a GET without Range (a range is of the identity bytes, and HEAD keeps the exact
 * Content-Length of them) whose client's Accept-Encoding accepts it.
 */
export function codingFor(request: Request): ContentCoding {
  if (request.method !== "GET" || request.headers.has("Range")) return "identity";
  return negotiateCoding(clientAcceptEncoding(request));
}

/**
 * The Accept-Encoding the client sent: `cf.clientAcceptEncoding` when Cloudflare (or Miniflare)
 * replaced the header (an empty string when the client sent none), else the header.
 */
export function clientAcceptEncoding(request: Request): string | null {
  const cf = request.cf as { clientAcceptEncoding?: unknown } | undefined;
  if (typeof cf?.clientAcceptEncoding === "string") return cf.clientAcceptEncoding;
  return request.headers.get("Accept-Encoding");
}

/**
 * The entity-tag of a representation in `coding`, from the identity one's strong tag `"<id>"`:
 * the gzip one is weak, `W/"<id>"` (RFC 9110 §8.8.3: a strong tag names exact bytes, and workerd's
 * gzip bytes are not promised to be the same twice), as nginx does. If-None-Match compares weakly,
 * so either tag gives 304 for either coding; If-Match and If-Range compare strongly and never match
 * the weak one.
 */
export function entityTagFor(strongTag: string, coding: ContentCoding): string {
  return coding === "gzip" ? `W/${strongTag}` : strongTag;
}

/**
 * `response` (a 200 of the identity bytes) to be sent gzip-encoded: `Content-Encoding: gzip` and
 * no Content-Length (the runtime compresses the body and sends its own length or chunks it).
 */
export function gzipEncoded(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("Content-Encoding", "gzip");
  headers.delete("Content-Length");
  return new Response(response.body, { status: response.status, headers });
}

/** `q` of an element's parameters (1 when none); undefined when the q-value is malformed. */
function qvalueOf(params: string[]): number | undefined {
  let q = 1;
  for (const param of params) {
    const [key = "", value = ""] = param.split("=").map(trimOws);
    if (key.toLowerCase() !== "q") continue;
    if (!QVALUE.test(value)) return undefined;
    q = Number(value);
  }
  return q;
}
