import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Problem } from "../../format/api.js";

/**
 * An HTTP error answered as `application/problem+json` (RFC 9457). Thrown anywhere below a route,
 * rendered by the app's error handler; `detail` is written for the person who sent the request.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** The problem+json response for `problem`. */
export function problemResponse(problem: HttpProblem, instance?: string): Response {
  const body: Problem = {
    type: "about:blank",
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    ...(instance ? { instance } : {}),
    ...problem.extra,
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: {
      "Content-Type": "application/problem+json",
      "Cache-Control": "no-store",
      ...problem.headers,
    },
  });
}

/** 400: the request itself is malformed. */
export const badRequest = (detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(400, "Bad Request", detail, extra);

/** 404: nothing is stored under this id or name. */
export const notFound = (detail: string) => new HttpProblem(404, "Not Found", detail);

/** 409: the request conflicts with what is stored (missing chunks, an older ref). */
export const conflict = (detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(409, "Conflict", detail, extra);

/** 412: a precondition (If-Match, If-None-Match, If-Unmodified-Since) did not hold. */
export const preconditionFailed = (detail: string) =>
  new HttpProblem(412, "Precondition Failed", detail);

/** 413: the body is larger than this route accepts. */
export const tooLarge = (limit: number, what: string) =>
  new HttpProblem(413, "Content Too Large", `${what} is larger than the ${limit}-byte limit`, {
    limit,
  });

/** 422: the body was read but does not check out (wrong hash, bad schema, bad signature). */
export const unprocessable = (detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(422, "Unprocessable Content", detail, extra);
