import { EDGE_API, type HomeAnswer, routeTemplate } from "../../format/api.js";
import { edgeCaps } from "../caps.js";
import type { AppContext } from "../context.js";
import {
  type DashboardData,
  gatherDashboard,
  HOME_MAX_MANIFEST_CHUNKS,
  HOME_MAX_READS,
} from "../dashboard/data.js";
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
  const answer: HomeAnswer & Pick<DashboardData, "reads"> = {
    service: "edgeboot",
    api: "v1",
    rootfs: data.rootfs,
    boot: `${origin}${EDGE_API.bootMenu.path()}`,
    limits: edgeCaps(budget.limit),
    endpoints: {
      rootfs: routeTemplate(EDGE_API.rootfsList),
      ref: routeTemplate(EDGE_API.ref),
      manifest: routeTemplate(EDGE_API.manifest),
      chunk: routeTemplate(EDGE_API.chunk),
      image: routeTemplate(EDGE_API.rootfsImage),
      caibx: routeTemplate(EDGE_API.rootfsCaibx),
      castr: routeTemplate(EDGE_API.castr),
      bootIpxe: routeTemplate(EDGE_API.rootfsIpxe),
      bootMenu: routeTemplate(EDGE_API.bootMenu),
    },
    reads: data.reads,
  };
  return c.json(answer);
}

function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/.test(accept);
}
