// The floor of a cache miss that fills the cache, for bench/edge.mjs: the bare Worker
// (bare-worker.js) plus the Cache API work edgeboot's miss path does, and nothing else: a
// `caches.default.match` that misses, the R2 body teed, one branch returned, the other put into
// the cache in the background (waitUntil) with its Content-Length. No routing, checks or headers.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const key = `chunks/${url.pathname.split("/").pop()}`;
    const cacheKey = new Request(url.toString(), { method: "GET" });
    const cached = await caches.default.match(cacheKey);
    if (cached) return cached;
    const object = await env.CHUNKS.get(key);
    if (!object) return new Response("no", { status: 404 });
    const [toClient, toCache] = object.body.tee();
    const headers = { "Content-Length": String(object.size) };
    ctx.waitUntil(caches.default.put(cacheKey, new Response(toCache, { headers })).catch(() => {}));
    return new Response(toClient);
  },
};
