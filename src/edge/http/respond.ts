import {
  evaluatePreconditions,
  formatHttpDate,
  rangeApplies,
  type Validators,
} from "./conditional.js";
import { badRequest, HttpProblem, preconditionFailed } from "./problem.js";
import { contentRange, parseRange, type RangeDecision, unsatisfiedRange } from "./range.js";
import { sliceStream } from "./slice.js";

/** Cache-Control of objects that never change: chunks and manifests. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** A stored representation, ready to be answered with every rule of HTTP's GET and HEAD. */
export interface Representation {
  size: number;
  /** A quoted strong entity-tag, e.g. `"<id>"`. */
  etag: string;
  lastModified?: Date;
  contentType: string;
  cacheControl: string;
  /** The whole body, or null when it was not read (HEAD). Cancelled when not sent. */
  body: ReadableStream<Uint8Array> | null;
  /**
   * Makes the bytes `start..end` (inclusive) on demand, for representations too large to read
   * whole for a range (the assembled image). Used instead of `body`; never called for HEAD.
   */
  open?: (start: number, end: number) => ReadableStream<Uint8Array>;
  /**
   * The most bytes one response may carry (what it costs to make them is bounded by the runtime's
   * CPU limit): a larger range is 416 and a larger whole body 400, each saying what to ask for.
   */
  maxBodyBytes?: number;
  /**
   * A bound on one response besides its bytes (the chunks an assembled image reads): why bytes
   * `start..end` may not be one response and the furthest end allowed from `start`, or undefined.
   * Answered like `maxBodyBytes`: 416 for a range, 400 for the whole body.
   */
  spanLimit?: (start: number, end: number) => SpanLimit | undefined;
  /**
   * `body` is exactly `size` bytes and the runtime knows its length (an R2 or Cache API body), so
   * a whole 200 sends it as it is, with no FixedLengthStream in between.
   */
  lengthKnown?: boolean;
  /** Further response headers, e.g. Cache-Status. */
  headers?: Record<string, string>;
}

/** What `Representation.spanLimit` says of bytes that may not be one response. */
export interface SpanLimit {
  /** Why, for the person who asked, e.g. "the range spans 40 chunks, more than 15". */
  reason: string;
  /** The last byte a response starting at the same byte may end at. */
  lastAllowed: number;
  extra?: Record<string, unknown>;
}

/**
 * Answers `request` (GET or HEAD) with `rep`: preconditions first (304, 412), then Range and
 * If-Range (206, 416), else the whole body (200). Content-Length is always exact and
 * `Accept-Ranges: bytes` is always there, 206 and HEAD included.
 */
export function respond(request: Request, rep: Representation): Response {
  const validators: Validators = { etag: rep.etag, lastModified: rep.lastModified };
  const precondition = evaluatePreconditions(request.headers, validators, request.method);
  if (precondition.kind !== "proceed") discard(rep.body);
  if (precondition.kind === "bad-request") throw badRequest(precondition.reason);
  if (precondition.kind === "failed") {
    throw preconditionFailed(`the stored representation's entity-tag is ${rep.etag}`);
  }
  const headers = representationHeaders(rep);
  if (precondition.kind === "not-modified") {
    headers.delete("Content-Type");
    return new Response(null, { status: 304, headers });
  }
  const range = requestedRange(request, rep, validators);
  if (range.kind === "unsatisfiable") {
    discard(rep.body);
    throw new HttpProblem(
      416,
      "Range Not Satisfiable",
      range.reason,
      { size: rep.size },
      { "Content-Range": unsatisfiedRange(rep.size), "Accept-Ranges": "bytes" },
    );
  }
  if (range.kind === "partial") {
    const length = range.end - range.start + 1;
    checkBodyLimit(request, rep, range.start, range.end, true);
    headers.set("Content-Range", contentRange(range.start, range.end, rep.size));
    headers.set("Content-Length", String(length));
    return new Response(sendable(request, bodyOf(request, rep, range.start, range.end), length), {
      status: 206,
      headers,
    });
  }
  checkBodyLimit(request, rep, 0, rep.size - 1, false);
  if (rep.lengthKnown && rep.body && request.method !== "HEAD") {
    return new Response(rep.body, { status: 200, headers });
  }
  return new Response(sendable(request, bodyOf(request, rep, 0, rep.size - 1), rep.size), {
    status: 200,
    headers,
  });
}

function checkBodyLimit(
  request: Request,
  rep: Representation,
  start: number,
  end: number,
  ranged: boolean,
) {
  if (request.method === "HEAD" || end < start) return;
  const length = end - start + 1;
  const limit = rep.maxBodyBytes;
  if (limit !== undefined && length > limit) {
    const ask = `ask for at most ${limit} bytes at a time, e.g. Range: bytes=0-${limit - 1}`;
    const what = ranged ? `the range is ${length} bytes` : `this is ${length} bytes`;
    tooLargeForOneResponse(
      rep,
      ranged,
      `${what}, more than one response of this edge carries: ${ask}`,
      {
        limit,
      },
    );
  }
  const span = rep.spanLimit?.(start, end);
  if (span) {
    const ask = `ask for at most bytes=${start}-${span.lastAllowed} from there`;
    tooLargeForOneResponse(rep, ranged, `${span.reason}: ${ask}`, span.extra ?? {});
  }
}

/** 416 for a range, 400 for a whole body, that one response may not carry. */
function tooLargeForOneResponse(
  rep: Representation,
  ranged: boolean,
  detail: string,
  extra: Record<string, unknown>,
): never {
  discard(rep.body);
  if (ranged) {
    throw new HttpProblem(
      416,
      "Range Not Satisfiable",
      detail,
      { size: rep.size, ...extra },
      { "Content-Range": unsatisfiedRange(rep.size), "Accept-Ranges": "bytes" },
    );
  }
  throw badRequest(detail, { size: rep.size, ...extra });
}

function bodyOf(
  request: Request,
  rep: Representation,
  start: number,
  end: number,
): ReadableStream<Uint8Array> | null {
  if (rep.open) return request.method === "HEAD" || end < start ? null : rep.open(start, end);
  if (!rep.body || (start === 0 && end === rep.size - 1)) return rep.body;
  return sliceStream(rep.body, start, end);
}

function requestedRange(request: Request, rep: Representation, v: Validators): RangeDecision {
  const header = request.headers.get("Range");
  if (request.method !== "GET" || header === null || !rangeApplies(request.headers, v)) {
    return { kind: "full" };
  }
  return parseRange(header, rep.size);
}

function representationHeaders(rep: Representation): Headers {
  const headers = new Headers({
    "Content-Type": rep.contentType,
    "Content-Length": String(rep.size),
    "Accept-Ranges": "bytes",
    ETag: rep.etag,
    "Cache-Control": rep.cacheControl,
    ...rep.headers,
  });
  if (rep.lastModified) headers.set("Last-Modified", formatHttpDate(rep.lastModified));
  return headers;
}

function sendable(
  request: Request,
  body: ReadableStream<Uint8Array> | null,
  length: number,
): ReadableStream<Uint8Array> | null {
  if (request.method === "HEAD" || body === null) {
    discard(body);
    return null;
  }
  return body.pipeThrough(new FixedLengthStream(length));
}

function discard(body: ReadableStream<Uint8Array> | null): void {
  if (body && !body.locked) body.cancel().catch(() => {});
}
