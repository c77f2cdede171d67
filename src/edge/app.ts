import { Hono } from "hono";
import { requireToken } from "./auth.js";
import { type AppEnv, background } from "./context.js";
import type { Env } from "./env.js";
import { getManifestBootFile, getRootfsBootFile } from "./handlers/boot-files.js";
import { findMissingChunks, getCastrChunk, getChunk, putChunk } from "./handlers/chunks.js";
import {
  getManifestCaibx,
  getManifestImage,
  getRootfsCaibx,
  getRootfsImage,
} from "./handlers/disk-image.js";
import { home } from "./handlers/home.js";
import { getBootMenu, getRootfsIpxe } from "./handlers/ipxe.js";
import {
  checkManifest,
  getManifest,
  getPendingManifest,
  putManifest,
} from "./handlers/manifests.js";
import { deleteChunk, deleteManifest, listChunks, listManifests } from "./handlers/objects.js";
import { deleteRef, getRef, listRootfs, putRef } from "./handlers/refs.js";
import { HttpProblem, problemResponse } from "./http/problem.js";
import { meter, OperationBudgetExceeded, operationBudget } from "./storage/budget.js";
import type { ObjectStorage } from "./storage/index.js";
import { defaultCache, type ResponseCache } from "./storage/response-cache.js";

/** What the app is built from; tests pass their own to count or break storage calls. */
export interface AppOptions {
  storage: (env: Env) => ObjectStorage;
  cache?: () => ResponseCache;
}

/**
 * The edge's HTTP API, version 1: every route in one place. Reads are public; writes pass
 * `requireToken` first. Every error is answered as problem+json; nothing is left to throw. Each
 * request's services (`RequestServices`, handlers' `c.var`) are set once, before any route: the
 * storage and cache metered against REQUEST_OPERATION_BUDGET (`meter`), the one place the
 * per-request limit of storage and Cache API operations is enforced, the request's URL and
 * `waitUntil`.
 */
export function createApp({ storage, cache = defaultCache }: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const auth = requireToken<Env>((env) => env.PUBLISH_TOKEN);

  app.use(async (c, next) => {
    const metered = meter(storage(c.env), cache(), operationBudget(c.env.REQUEST_OPERATION_BUDGET));
    c.set("storage", metered.storage);
    c.set("cache", metered.cache);
    c.set("budget", metered.budget);
    c.set("requestUrl", c.req.url);
    c.set("waitUntil", background(c));
    await next();
  });

  app.get("/", home);
  app.get("/boot.ipxe", getBootMenu);
  app.get("/v1/rootfs", listRootfs);
  app.get("/v1/rootfs/:name", getRef);
  app.get("/v1/rootfs/:name/image", getRootfsImage);
  app.get("/v1/rootfs/:name/index.caibx", getRootfsCaibx);
  app.get("/v1/rootfs/:name/boot.ipxe", getRootfsIpxe);
  app.get("/v1/rootfs/:name/boot/:file", getRootfsBootFile);
  app.put("/v1/rootfs/:name", auth, putRef);
  app.delete("/v1/rootfs/:name", auth, deleteRef);
  app.get("/v1/manifests", auth, listManifests);
  app.get("/v1/manifests/:id", getManifest);
  app.get("/v1/manifests/:id/image", getManifestImage);
  app.get("/v1/manifests/:id/index.caibx", getManifestCaibx);
  app.get("/v1/manifests/:id/boot/:file", getManifestBootFile);
  app.put("/v1/manifests/:id", auth, putManifest);
  app.post("/v1/manifests/:id/check", auth, checkManifest);
  app.get("/v1/manifests/:id/pending", auth, getPendingManifest);
  app.delete("/v1/manifests/:id", auth, deleteManifest);
  app.get("/v1/chunks", auth, listChunks);
  app.post("/v1/chunks/missing", auth, findMissingChunks);
  app.get("/v1/chunks/:id", getChunk);
  app.put("/v1/chunks/:id", auth, putChunk);
  app.delete("/v1/chunks/:id", auth, deleteChunk);
  app.get("/v1/castr/:prefix/:file", getCastrChunk);

  app.notFound((c) => problemResponse(noSuchRoute(c.req.method, c.req.path), c.req.path));
  app.onError((error, c) => problemResponse(asProblem(error), c.req.path));
  return app;
}

function noSuchRoute(method: string, path: string): HttpProblem {
  return new HttpProblem(
    404,
    "Not Found",
    `no ${method} route matches ${path}; see GET / for the API`,
  );
}

/**
 * 500, not 503: every route is built to stay within the budget, so reaching it is a bug or a
 * budget set below a route's fixed needs, and a retry would meet it again.
 */
function overBudget(error: OperationBudgetExceeded): HttpProblem {
  console.error("operation budget exceeded:", error.message);
  return new HttpProblem(
    500,
    "Internal Server Error",
    `this request needed more than the ${error.limit} storage and cache operations a request may make here (REQUEST_OPERATION_BUDGET); retrying will not help: report it, with the request`,
    { operationBudget: error.limit },
  );
}

function asProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof OperationBudgetExceeded) return overBudget(error);
  console.error("unhandled error", error instanceof Error ? error.stack : error);
  return new HttpProblem(500, "Internal Server Error", "the edge failed to answer; retry later");
}
