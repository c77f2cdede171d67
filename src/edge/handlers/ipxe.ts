import { sha256Hex } from "../../format/hex.js";
import type { AppContext } from "../context.js";
import { badRequest, notFound } from "../http/problem.js";
import { respond } from "../http/respond.js";
import { menuScript, originProblem, rootfsScript, scriptOrigin } from "../ipxe.js";
import { readManifest } from "../reads/manifests.js";
import { listSummaries, readRef } from "../reads/refs.js";
import { rootfsNameParam } from "./params.js";

/** Cache-Control of iPXE scripts: they follow every publish at once. */
export const SCRIPT_CACHE_CONTROL = "no-cache";

/** PUBLIC_URL values already warned about by this isolate, so each is logged once. */
const warned = new Set<string>();

/**
 * The origin this edge's links point at: PUBLIC_URL when valid, else the request's own (logging
 * once why PUBLIC_URL was passed over).
 */
export function publicOrigin(c: AppContext): string {
  const { origin, warning } = scriptOrigin(c.req.url, c.env.PUBLIC_URL);
  if (warning && !warned.has(warning)) {
    warned.add(warning);
    console.warn(`edgeboot: ${warning}`);
  }
  return origin;
}

/** `publicOrigin`, for a script: 400 if it is not one iPXE can take literally. */
function scriptOriginOf(c: AppContext): string {
  const origin = publicOrigin(c);
  const problem = originProblem(origin);
  if (problem) throw badRequest(`${problem}, or set PUBLIC_URL`);
  return origin;
}

/**
 * GET and HEAD `/v1/rootfs/:name/boot.ipxe`: a script that boots this rootfs, pinned to the
 * manifest its ref names now. Reads the ref (fresh, not the isolate's memo) and one manifest.
 */
export async function getRootfsIpxe(c: AppContext): Promise<Response> {
  const name = rootfsNameParam(c);
  const origin = scriptOriginOf(c);
  const current = await readRef(c.var.storage, name);
  if (!current) throw notFound(`no rootfs named "${name}" is published here`);
  const { ref } = current;
  const { manifest } = await readManifest(c.var, ref.manifest);
  if (!manifest.boot) {
    throw notFound(
      `rootfs "${name}" has no boot files: publish it with --kernel (and --initrd, --cmdline) to boot it with iPXE`,
    );
  }
  const script = rootfsScript({
    origin,
    name,
    manifestId: ref.manifest,
    published: ref.published,
    signature: ref.signature?.sig,
    cmdline: manifest.boot.cmdline,
    hasInitrd: manifest.boot.initrd !== undefined,
  });
  return serveScript(c, script);
}

/**
 * GET and HEAD `/boot.ipxe`: the boot menu of every bootable rootfs, from one listing of the refs'
 * metadata (no ref or manifest is read); the default and timeout come from BOOT_MENU_DEFAULT and
 * BOOT_MENU_TIMEOUT_SECONDS.
 */
export async function getBootMenu(c: AppContext): Promise<Response> {
  const origin = scriptOriginOf(c);
  const rootfs = await listSummaries(c.var.storage);
  const script = menuScript({
    origin,
    entries: rootfs.filter((r) => r.bootable),
    published: rootfs.length,
    configuredDefault: c.env.BOOT_MENU_DEFAULT,
    configuredTimeout: c.env.BOOT_MENU_TIMEOUT_SECONDS,
  });
  return serveScript(c, script);
}

/** A script with a strong ETag of its bytes and no Last-Modified (it also depends on the origin). */
async function serveScript(c: AppContext, script: string): Promise<Response> {
  const bytes = new TextEncoder().encode(script);
  return respond(c.req.raw, {
    size: bytes.byteLength,
    etag: `"${await sha256Hex(bytes)}"`,
    contentType: "text/plain; charset=utf-8",
    cacheControl: SCRIPT_CACHE_CONTROL,
    body: new Blob([bytes]).stream(),
  });
}
