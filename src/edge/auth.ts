import type { MiddlewareHandler } from "hono";
import { HttpProblem } from "./http/problem.js";

/** Where the expected token comes from: the Worker's `PUBLISH_TOKEN` secret, usually. */
export type TokenSource<E> = (env: E) => string | undefined;

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const REALM = 'Bearer realm="edgeboot"';

/**
 * Lets a write through only with `Authorization: Bearer <token>` equal to the configured token,
 * compared in constant time (both sides hashed first, so not even the length leaks). With no token
 * configured every write is refused: an edge is read-only until its operator sets one.
 */
export function requireToken<E extends object>(
  token: TokenSource<E>,
): MiddlewareHandler<{ Bindings: E }> {
  return async (c, next) => {
    const expected = token(c.env);
    if (!expected) throw writesDisabled();
    const presented = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
    if (presented === undefined)
      throw unauthorized("this request needs an Authorization: Bearer <token> header");
    if (!(await sameSecret(presented, expected)))
      throw unauthorized("the bearer token is not the one this edge accepts");
    await next();
  };
}

/** Constant-time comparison of two secrets of any lengths. */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [hashA, hashB] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(hashA, hashB);
}

function writesDisabled(): HttpProblem {
  return new HttpProblem(
    403,
    "Forbidden",
    "writes are disabled: this edge has no PUBLISH_TOKEN. Set one with `wrangler secret put PUBLISH_TOKEN` (or in .dev.vars for `wrangler dev`).",
  );
}

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, "Unauthorized", detail, {}, { "WWW-Authenticate": REALM });
}
