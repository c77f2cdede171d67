import { Hono } from "hono";
import { EDGE_API as API } from "../format/api.js";
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

  app.get(API.home.route, home);
  app.get(API.bootMenu.route, getBootMenu);
  app.get(API.rootfsList.route, listRootfs);
  app.get(API.ref.route, getRef);
  app.get(API.rootfsImage.route, getRootfsImage);
  app.get(API.rootfsCaibx.route, getRootfsCaibx);
  app.get(API.rootfsIpxe.route, getRootfsIpxe);
  app.get(API.rootfsBootFile.route, getRootfsBootFile);
  app.put(API.ref.route, auth, putRef);
  app.delete(API.ref.route, auth, deleteRef);
  app.get(API.manifestList.route, auth, listManifests);
  app.get(API.manifest.route, getManifest);
  app.get(API.manifestImage.route, getManifestImage);
  app.get(API.manifestCaibx.route, getManifestCaibx);
  app.get(API.manifestBootFile.route, getManifestBootFile);
  app.put(API.manifest.route, auth, putManifest);
  app.post(API.manifestCheck.route, auth, checkManifest);
  app.get(API.pendingManifest.route, auth, getPendingManifest);
  app.delete(API.manifest.route, auth, deleteManifest);
  app.get(API.chunkList.route, auth, listChunks);
  app.post(API.missingChunks.route, auth, findMissingChunks);
  app.get(API.chunk.route, getChunk);
  app.put(API.chunk.route, auth, putChunk);
  app.delete(API.chunk.route, auth, deleteChunk);
  app.get(API.castrChunk.route, getCastrChunk);

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
