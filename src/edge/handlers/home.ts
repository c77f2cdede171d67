import { edgeCaps } from "../caps.js";
import type { AppContext } from "../context.js";
import { gatherDashboard, HOME_MAX_MANIFEST_CHUNKS, HOME_MAX_READS } from "../dashboard/data.js";
import { dashboardPage } from "../dashboard/page.js";
import { publicOrigin } from "./ipxe.js";

/**
 * GET `/`: the edge's dashboard. Every rootfs with its current version and history, signer, boot
 * files and prefetch list, the copy-ready commands that boot and read it, and links: as an HTML
 * page for a browser that asks for HTML, else as JSON (the original keys, each rootfs gaining the
 * same facts). Reads are bounded (dashboard/data.ts: HOME_MAX_READS operations, at most what the
 * request's budget leaves, and HOME_MAX_MANIFEST_CHUNKS of manifests parsed).
 */
export async function home(c: AppContext): Promise<Response> {
  const origin = publicOrigin(c);
  const budget = c.var.budget;
  const data = await gatherDashboard(
    c,
    origin,
    { operations: HOME_MAX_READS, manifestChunks: HOME_MAX_MANIFEST_CHUNKS },
    () => budget.limit - budget.used,
  );
  c.header("Cache-Control", "no-cache");
  if (prefersHtml(c.req.header("Accept"))) return c.html(dashboardPage(data));
  return c.json({
    service: "edgeboot",
    api: "v1",
    rootfs: data.rootfs,
    boot: `${origin}/boot.ipxe`,
    limits: edgeCaps(budget.limit),
    endpoints: {
      rootfs: "/v1/rootfs",
      ref: "/v1/rootfs/{name}",
      manifest: "/v1/manifests/{id}",
      chunk: "/v1/chunks/{id}",
      image: "/v1/rootfs/{name}/image",
      caibx: "/v1/rootfs/{name}/index.caibx",
      castr: "/v1/castr",
      bootIpxe: "/v1/rootfs/{name}/boot.ipxe",
      bootMenu: "/boot.ipxe",
    },
    reads: data.reads,
  });
}

function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/.test(accept);
}
