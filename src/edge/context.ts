import type { Context } from "hono";
import type { ResponseCache } from "./cache/index.js";
import type { Env } from "./index.js";
import type { OperationBudget } from "./storage/budget.js";
import type { ObjectStorage } from "./storage/index.js";

/**
 * Hono environment of the edge app: the Worker's bindings, and the services each request uses,
 * metered against the request's operation budget (`storage/budget.ts`).
 */
export type AppEnv = {
  Bindings: Env;
  Variables: { storage: ObjectStorage; cache: ResponseCache; budget: OperationBudget };
};

/** The context every handler receives. */
export type AppContext = Context<AppEnv>;

/** Runs `promise` after the response is sent, where the runtime allows it. */
export function background(c: AppContext): (promise: Promise<unknown>) => void {
  return (promise) => {
    try {
      c.executionCtx.waitUntil(promise);
    } catch {
      promise.catch(() => {});
    }
  };
}
