import { env } from "cloudflare:workers";
import { createApp } from "../../src/edge/app.js";
import type {
  ListPage,
  ObjectInfo,
  ObjectStorage,
  PutOptions,
  StoredObject,
} from "../../src/edge/storage/index.js";
import type { ResponseCache } from "../../src/edge/storage/response-cache.js";
import { intercept, STORAGE_METHODS, sendTo } from "./helpers.js";

/** Objects per listing page, as R2's `list` gives by default. */
const PAGE = 1000;

interface Held {
  bytes: Uint8Array;
  info: ObjectInfo;
}

/**
 * An ObjectStorage in memory, with R2's semantics where the edge relies on them (conditional
 * puts, 1,000 objects a listing page). With `everyChunk`, a HEAD of any `chunks/<id>` finds it:
 * the check of a manifest of 262,144 chunks needs none uploaded.
 */
export function memoryStorage(options: { everyChunk?: boolean } = {}): ObjectStorage {
  const objects = new Map<string, Held>();
  let version = 0;
  const stub = (key: string): ObjectInfo => ({
    key,
    size: 1,
    etag: "stub",
    uploaded: new Date(0),
    customMetadata: {},
  });
  return {
    async head(key) {
      const held = objects.get(key);
      if (held) return held.info;
      return options.everyChunk && key.startsWith("chunks/") ? stub(key) : null;
    },
    async get(key): Promise<StoredObject | null> {
      const held = objects.get(key);
      return held ? { ...held.info, body: new Blob([held.bytes]).stream() } : null;
    },
    async put(key, body, put: PutOptions = {}) {
      const current = objects.get(key);
      const condition = put.onlyIf;
      if (condition && "absent" in condition && current) return null;
      if (condition && "etagMatches" in condition && current?.info.etag !== condition.etagMatches)
        return null;
      const info: ObjectInfo = {
        key,
        size: body.byteLength,
        etag: `v${++version}`,
        uploaded: new Date(),
        customMetadata: { ...put.customMetadata },
      };
      objects.set(key, { bytes: body.slice(), info });
      return info;
    },
    async delete(key) {
      objects.delete(key);
    },
    async list(prefix, cursor): Promise<ListPage> {
      const keys = [...objects.keys()]
        .filter((key) => key.startsWith(prefix) && (!cursor || key > cursor))
        .sort();
      const page = keys.slice(0, PAGE);
      const more = keys.length > PAGE;
      return {
        objects: page.map((key) => (objects.get(key) as Held).info),
        cursor: more ? page[page.length - 1] : undefined,
      };
    },
  };
}

/** A Cache API in memory: what was put, whole, by URL. */
export function memoryCache(): ResponseCache {
  const held = new Map<string, { body: ArrayBuffer; headers: Headers }>();
  return {
    async match(request) {
      const entry = held.get(request.url);
      return entry && new Response(entry.body.slice(0), { headers: entry.headers });
    },
    async put(request, response) {
      held.set(request.url, { body: await response.arrayBuffer(), headers: response.headers });
    },
    async delete(request) {
      return held.delete(request.url);
    },
  };
}

/** Storage and cache that record each call, as `"<op> <key or url>"`. */
export function recorded(storage: ObjectStorage, cache: ResponseCache) {
  const calls: string[] = [];
  const record = (op: string, args: unknown[]) => {
    const first = args[0];
    calls.push(`${op} ${first instanceof Request ? first.url : first}`);
  };
  const cacheOps = { match: "match", put: "cache-put", delete: "cache-delete" } as const;
  return {
    calls,
    storage: intercept(storage, STORAGE_METHODS, record),
    cache: intercept(cache, ["match", "put", "delete"], (method, args) =>
      record(cacheOps[method], args),
    ),
  };
}

/** One request's answer, its body read, and every operation it made (background ones included). */
export interface Measured {
  status: number;
  headers: Headers;
  body: Uint8Array;
  operations: string[];
}

/**
 * The real app on `storage` and `cache`, held to a budget of `budget` operations a request
 * (REQUEST_OPERATION_BUDGET), whose `send` reports what each request did.
 */
export function budgetedEdge(
  budget: number,
  storage: ObjectStorage = memoryStorage(),
  cache: ResponseCache = memoryCache(),
) {
  const seen = recorded(storage, cache);
  const app = createApp({ storage: () => seen.storage, cache: () => seen.cache });
  const bindings = { ...env, REQUEST_OPERATION_BUDGET: String(budget) };
  return {
    storage,
    async send(path: string, init: RequestInit = {}): Promise<Measured> {
      seen.calls.length = 0;
      const { response, body } = await sendTo(app, path, init, bindings);
      return {
        status: response.status,
        headers: response.headers,
        body,
        operations: [...seen.calls],
      };
    },
  };
}
