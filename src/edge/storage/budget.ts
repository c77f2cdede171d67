import type { ObjectStorage } from "./index.js";
import type { ResponseCache } from "./response-cache.js";

/**
 * Storage and Cache API operations one request may make unless `REQUEST_OPERATION_BUDGET` says
 * otherwise: the Workers Free plan's 50 subrequests per request, which R2 binding calls and Cache
 * API calls (`match`, `put`, `delete`) count against (README, "Deploy with wrangler", has the
 * links). Every route is designed to stay within it; the caps in `caps.ts` follow from it.
 */
export const DEFAULT_OPERATION_BUDGET = 50;

/**
 * The smallest budget accepted: below it a manifest check could not make progress. A smaller
 * configured value is raised to this one.
 */
export const MIN_OPERATION_BUDGET = 16;

/** Where a request stands against its budget. */
export interface OperationBudget {
  /** Operations this request may make in all. */
  readonly limit: number;
  /** Operations made so far, those refused excepted. */
  readonly used: number;
}

/**
 * The operation that would have taken a request over its budget, refused before it reached
 * storage or the cache. Routes are designed never to meet it: when one does, it is a bug in
 * edgeboot or a budget set below what a route's fixed part needs, and the app answers 500.
 */
export class OperationBudgetExceeded extends Error {
  override name = "OperationBudgetExceeded";

  constructor(
    readonly limit: number,
    readonly operation: string,
  ) {
    super(`${operation} would be operation ${limit + 1} of a request allowed ${limit}`);
  }
}

/** Storage and cache that count, and refuse past the budget, every operation of one request. */
export interface Metered {
  storage: ObjectStorage;
  cache: ResponseCache;
  budget: OperationBudget;
}

/**
 * Wraps the storage and cache one request uses so that every call counts against one budget of
 * `limit` operations, whether made while answering or afterwards in the background
 * (`waitUntil`), and the call that would go past it throws {@link OperationBudgetExceeded}
 * without being made. The one place the per-request limit is enforced; built once per request.
 */
export function meter(storage: ObjectStorage, cache: ResponseCache, limit: number): Metered {
  const budget = { limit, used: 0 };
  const charge = (operation: string) => {
    if (budget.used >= limit) throw new OperationBudgetExceeded(limit, operation);
    budget.used++;
  };
  return {
    budget,
    storage: {
      head: (key) => metered(charge, `storage head ${key}`, () => storage.head(key)),
      get: (key) => metered(charge, `storage get ${key}`, () => storage.get(key)),
      put: (key, body, options) =>
        metered(charge, `storage put ${key}`, () => storage.put(key, body, options)),
      delete: (key) => metered(charge, `storage delete ${key}`, () => storage.delete(key)),
      list: (prefix, cursor) =>
        metered(charge, `storage list ${prefix}`, () => storage.list(prefix, cursor)),
    },
    cache: {
      match: (request) => metered(charge, `cache match ${request.url}`, () => cache.match(request)),
      put: (request, response) =>
        metered(charge, `cache put ${request.url}`, () => cache.put(request, response)),
      delete: (request) =>
        metered(charge, `cache delete ${request.url}`, () => cache.delete(request)),
    },
  };
}

function metered<T>(
  charge: (operation: string) => void,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    charge(operation);
  } catch (error) {
    return Promise.reject(error);
  }
  return call();
}

/**
 * The budget `REQUEST_OPERATION_BUDGET` configures: a whole number, at least
 * MIN_OPERATION_BUDGET (a smaller one is raised to it); empty or not a number gives the default.
 */
export function operationBudget(configured: string | undefined): number {
  const value = Number(configured);
  if (!configured || !Number.isSafeInteger(value) || value <= 0) return DEFAULT_OPERATION_BUDGET;
  return Math.max(value, MIN_OPERATION_BUDGET);
}
