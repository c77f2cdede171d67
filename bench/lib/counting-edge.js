// The edge Worker as src/edge/index.ts builds it, with counters around its storage and cache, for
// bench/edge.mjs only: every R2 call (get, head, put, delete, list; gets also by key prefix:
// chunks/, manifests/, refs/) and every Cache API call (match, hit, put) is counted in this
// isolate, and `GET /__bench/counts` answers the counts (`?reset=1` zeroes them after reading).
// With the binding BENCH_CACHE = "none", the app gets a Cache API stub instead of caches.default
// (match always misses; put cancels the body it is given): edgeboot's own work on a miss, without
// the runtime's cache. src/ stays untouched; bundled by esbuild like the test Worker. A counter
// costs an integer increment per call, nothing a benchmark can see.
import { createApp } from "../../src/edge/app.ts";
import { r2Storage } from "../../src/edge/storage/r2.ts";
import { defaultCache } from "../../src/edge/storage/response-cache.ts";

const counts = {
  r2: { get: 0, head: 0, put: 0, delete: 0, list: 0 },
  r2Gets: { chunks: 0, manifests: 0, refs: 0 },
  cache: { match: 0, hit: 0, put: 0 },
};

function countingStorage(storage) {
  const wrapped = {};
  for (const method of Object.keys(counts.r2)) {
    wrapped[method] = (...args) => {
      counts.r2[method]++;
      if (method === "get") {
        const prefix = String(args[0]).split("/")[0];
        if (prefix in counts.r2Gets) counts.r2Gets[prefix]++;
      }
      return storage[method](...args);
    };
  }
  return wrapped;
}

function countingCache(cache) {
  return {
    async match(request) {
      counts.cache.match++;
      const response = await cache.match(request);
      if (response) counts.cache.hit++;
      return response;
    },
    put(request, response) {
      counts.cache.put++;
      return cache.put(request, response);
    },
  };
}

const noCache = {
  match: async () => undefined,
  put: async (_request, response) => {
    await response.body?.cancel();
  },
};

const storage = (env) => countingStorage(r2Storage(env.CHUNKS));
const app = createApp({ storage, cache: () => countingCache(defaultCache()) });
const appWithoutCache = createApp({ storage, cache: () => countingCache(noCache) });

export default {
  fetch(request, env, ctx) {
    // A string test, not a URL parse: the wrapper must add nothing measurable to other requests.
    if (request.url.includes("/__bench/counts")) {
      const body = JSON.stringify(counts);
      if (request.url.endsWith("?reset=1")) {
        for (const group of Object.values(counts)) for (const k in group) group[k] = 0;
      }
      return new Response(body, { headers: { "Content-Type": "application/json" } });
    }
    return (env.BENCH_CACHE === "none" ? appWithoutCache : app).fetch(request, env, ctx);
  },
};
