// The floor of the runtime for bench/edge.mjs: a module Worker that only reads `chunks/<last path
// segment>` from its R2 binding and returns the body. No routing, no validation, no headers, no
// cache. Run in the same workerd (Miniflare) as edgeboot's Worker, on the same R2 data.
export default {
  async fetch(request, env) {
    const key = `chunks/${new URL(request.url).pathname.split("/").pop()}`;
    const object = await env.CHUNKS.get(key);
    return object ? new Response(object.body) : new Response("no", { status: 404 });
  },
};
