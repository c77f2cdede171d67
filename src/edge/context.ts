import type { Context } from "hono";
import type { Env } from "./env.js";
import type { OperationBudget } from "./storage/budget.js";
import type { ObjectStorage } from "./storage/index.js";
import type { ResponseCache } from "./storage/response-cache.js";

/**
 * What one request reads and writes through, set once per request by the app's middleware and
 * passed as it is to every reader: the storage and cache metered against the request's operation
 * budget (`storage/budget.ts`), the budget itself, the request's URL (cache keys are built on
 * it) and where to run work after the response.
 */
export interface RequestServices {
  storage: ObjectStorage;
  cache: ResponseCache;
  budget: OperationBudget;
  /** The URL of the request: cache keys are canonical URLs on this edge. */
  requestUrl: string;
  /** Runs `promise` after the response is sent, where the runtime allows it. */
  waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * Hono environment of the edge app: the Worker's bindings, and the request's services as its
 * variables, so that `c.var` is the RequestServices a handler passes on.
 */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestServices;
};

/** The context every handler receives. */
export type AppContext = Context<AppEnv>;

/** `c.executionCtx.waitUntil`, where the runtime gives one; else the promise just runs. */
export function background(c: Context): (promise: Promise<unknown>) => void {
  return (promise) => {
    try {
      c.executionCtx.waitUntil(promise);
    } catch {
      promise.catch(() => {});
    }
  };
}
