import { html } from "hono/html";
import type { RootfsSummary } from "../../format/ref.js";
import type { AppContext } from "../context.js";
import { publicOrigin } from "./ipxe.js";
import { listSummaries } from "./refs.js";

/** GET `/`: what this edge serves, as JSON, or as a page for a browser that asks for HTML. */
export async function home(c: AppContext): Promise<Response> {
  const rootfs = await listSummaries(c.var.storage);
  c.header("Cache-Control", "no-cache");
  if (prefersHtml(c.req.header("Accept"))) return c.html(page(rootfs));
  return c.json({
    service: "edgeboot",
    api: "v1",
    rootfs,
    boot: `${publicOrigin(c)}/boot.ipxe`,
    endpoints: {
      rootfs: "/v1/rootfs",
      ref: "/v1/rootfs/{name}",
      manifest: "/v1/manifests/{id}",
      chunk: "/v1/chunks/{id}",
    },
  });
}

function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/.test(accept);
}

function page(rootfs: RootfsSummary[]) {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>edgeboot</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .6rem;text-align:left;border-bottom:1px solid #ddd}
code{font-size:.85em}</style></head>
<body>
<h1>edgeboot</h1>
<p>Root filesystems served as content-addressed chunks. Read API: <code>/v1/rootfs</code>.</p>
${
  rootfs.length === 0
    ? html`<p>No root filesystem is published here yet: <code>edgeboot publish IMAGE --name NAME --edge URL</code>.</p>`
    : html`<table><tr><th>rootfs</th><th>size</th><th>chunks</th><th>published</th><th>manifest</th></tr>
${rootfs.map(
  (r) =>
    html`<tr><td><a href="/v1/rootfs/${r.name}">${r.name}</a></td><td>${mebibytes(r.size)}</td><td>${r.chunks}</td><td>${r.published}</td><td><code>${r.manifest.slice(0, 12)}</code></td></tr>`,
)}</table>`
}
</body></html>`;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
