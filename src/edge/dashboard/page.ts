import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { EDGE_API } from "../../format/api.js";
import type { Command } from "./commands.js";
import { fingerprintCommand } from "./commands.js";
import type { DashboardData, RootfsDetail, VersionFacts } from "./data.js";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The dashboard as one server-rendered page: no script, readable on a phone (one column, long
 * lines scroll inside their own boxes), landmarks and headings for every rootfs, a table per
 * history with a caption and header cells, text colours with at least 4.5:1 contrast.
 */
export function dashboardPage(data: DashboardData): Html {
  const { origin, rootfs } = data;
  const menu = EDGE_API.bootMenu.path();
  const listing = EDGE_API.rootfsList.path();
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>edgeboot: ${rootfs.length} root filesystem${rootfs.length === 1 ? "" : "s"}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>edgeboot</h1>
<p>This edge serves root filesystems as content-addressed chunks: each chunk is checked against its
SHA-256 by whoever reads it, and a signed ref says which version of a rootfs is current.</p>
<nav aria-label="This edge">
<ul>
<li><a href="${origin}${menu}">${menu}</a>: the iPXE boot menu of every bootable rootfs</li>
<li><a href="${origin}${listing}">${listing}</a>: every rootfs as JSON (and <code>GET /</code> with <code>Accept: application/json</code>: this page's facts)</li>
</ul>
</nav>
</header>
<main>
${
  rootfs.length === 0
    ? empty(origin)
    : html`<nav aria-label="Root filesystems"><h2 class="sr">Root filesystems</h2><ul class="toc">${rootfs.map((r) => html`<li><a href="#rootfs-${r.name}">${r.name}</a>${r.signed ? html` <span class="badge ok">signed</span>` : ""}${r.bootable ? html` <span class="badge boot">bootable</span>` : ""}</li>`)}</ul></nav>
${rootfs.map((r) => section(r))}`
}
</main>
<footer><p>Reads for this page: ${data.reads.used} of at most ${data.reads.operations} storage operations, manifests of at most ${data.reads.manifestChunks} chunks in all; what that bound left out is said where it applies. The commands use <code>edgeboot</code>, the CLI of this project (<code>node bin/edgeboot.js</code> in a clone).</p></footer>
</body>
</html>`;
}

function empty(origin: string): Html {
  return html`<section aria-labelledby="nothing"><h2 id="nothing">Nothing published yet</h2>
<p>Publish a root filesystem image:</p>
<pre tabindex="0"><code>EDGEBOOT_TOKEN=... edgeboot publish IMAGE --name NAME --edge ${origin}</code></pre></section>`;
}

function section(r: RootfsDetail): Html {
  const id = `rootfs-${r.name}`;
  return html`<section id="${id}" aria-labelledby="${id}-h" class="rootfs">
<h2 id="${id}-h">${r.name}</h2>
<ul class="marks" aria-label="What ${r.name} is">
${r.signed ? html`<li class="badge ok">✔ signed</li>` : html`<li class="badge warn">unsigned</li>`}
${r.bootable ? html`<li class="badge boot">bootable</li>` : html`<li class="badge plain">no boot files</li>`}
${r.prefetch ? html`<li class="badge plain">prefetch list: ${r.prefetch} chunks</li>` : r.prefetch === 0 ? html`<li class="badge plain">no prefetch list</li>` : ""}
</ul>
<dl>
<dt>Current version</dt><dd><code>${r.manifest}</code></dd>
<dt>Published</dt><dd><time datetime="${r.published}">${r.published}</time></dd>
<dt>Size</dt><dd>${size(r.size)} in ${r.chunks} chunks</dd>
${r.key ? html`<dt>Signed by</dt><dd>key fingerprint (SHA-256 of the raw Ed25519 key) <code class="fp">${r.key.fingerprint}</code>; compare with your key: <code class="fp-cmd">${fingerprintCommand()}</code></dd>` : ""}
${r.boot ? html`<dt>Boot files</dt><dd>kernel ${size(r.boot.kernel)}${r.boot.initrd !== undefined ? html`, initramfs ${size(r.boot.initrd)}` : ""}; command line <code>${r.boot.cmdline || "(none)"}</code></dd>` : ""}
${r.detail === "complete" ? "" : html`<dt>Not shown</dt><dd>${r.detail}</dd>`}
</dl>
${history(r)}
${commands(`${id}-boot`, "Boot it", r.commands.boot)}
${commands(`${id}-read`, "Read it with the tools you have", r.commands.read)}
<h3>Links</h3>
<ul class="links">
<li><a href="${r.links.image}">image</a> (the whole image, HTTP ranges)</li>
<li><a href="${r.links.caibx}">index.caibx</a> (casync index)</li>
<li><a href="${r.links.ref}">ref</a> (JSON) and <a href="${r.links.manifest}">manifest</a></li>
${r.links.bootIpxe ? html`<li><a href="${r.links.bootIpxe}">boot.ipxe</a> (its iPXE script), <a href="${r.links.kernel}">kernel</a>${r.links.initrd ? html`, <a href="${r.links.initrd}">initrd</a>` : ""}</li>` : ""}
</ul>
</section>`;
}

function history(r: RootfsDetail): Html {
  const more = r.previousVersions - (r.history.length - 1);
  return html`<div class="scroll" tabindex="0" role="region" aria-labelledby="rootfs-${r.name}-hist">
<table>
<caption id="rootfs-${r.name}-hist">Versions of ${r.name}, newest first${more > 0 ? html` (${more} older not shown)` : ""}</caption>
<thead><tr><th scope="col">version (manifest)</th><th scope="col">published</th><th scope="col">size</th><th scope="col">chunks</th><th scope="col">new against the one before</th><th scope="col">codec, chunking</th></tr></thead>
<tbody>${r.history.map((v, i) => version(v, i === 0))}</tbody>
</table></div>`;
}

function version(v: VersionFacts, current: boolean): Html {
  const unknown = html`<span class="dim">not read</span>`;
  return html`<tr><td><code title="${v.manifest}">${v.manifest.slice(0, 16)}…</code>${current ? " (current)" : ""}</td>
<td>${v.published ?? unknown}</td><td>${v.size === undefined ? unknown : size(v.size)}</td><td>${v.chunks ?? unknown}</td>
<td>${v.newChunks === undefined ? html`<span class="dim">-</span>` : html`${v.newChunks} chunks, ${size(v.newBytes ?? 0)}`}</td>
<td>${v.codec ? `${v.codec}, ${v.chunking}` : html`<span class="dim">-</span>`}</td></tr>`;
}

function commands(id: string, title: string, list: Command[]): Html {
  return html`<h3 id="${id}">${title}</h3>
${list.map(
  (
    c,
  ) => html`<figure class="cmd" data-command="${c.id}"><figcaption id="${id}-${c.id}">${c.label}</figcaption>
<pre tabindex="0" aria-labelledby="${id}-${c.id}"><code>${c.command}</code></pre></figure>`,
)}`;
}

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

const STYLE = `
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:0 1rem 2rem;color:#1b1b1b;background:#fff}
a{color:#0645ad}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
pre{background:#f3f4f6;border:1px solid #d0d4da;padding:.5rem .7rem;margin:.2rem 0 .8rem;white-space:pre-wrap;overflow-wrap:anywhere}
pre:focus,.scroll:focus{outline:2px solid #0645ad}
.rootfs{border-top:2px solid #d0d4da;margin-top:1.5rem}
.marks,.toc{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
.toc{gap:1rem}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-size:.85em;border:1px solid}
.ok{color:#0f5323;border-color:#0f5323;background:#e9f6ec}
.warn{color:#7a3e00;border-color:#7a3e00;background:#fff4e5}
.boot{color:#14386b;border-color:#14386b;background:#eaf1fb}
.plain{color:#3a3f45;border-color:#6b7280}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
.fp{overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;min-width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
td,th{padding:.3rem .6rem;text-align:left;border-bottom:1px solid #d0d4da;white-space:nowrap}
.dim{color:#595f66}
figure{margin:0}
figcaption{font-size:.95em}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:40rem){dl{grid-template-columns:1fr}dt{font-weight:600}}
`;
