import {
  BOOT_FILE_KINDS,
  type BootFile,
  type BootFileKind,
  bootFileEntries,
  isBootFileKind,
} from "../../format/boot-files.js";
import { chunkOffsets, type Manifest } from "../../format/manifest.js";
import type { AppContext } from "../context.js";
import { notFound } from "../http/problem.js";
import { readManifest } from "../reads/manifests.js";
import { byManifest, byName, serveAssembled, type Target } from "./disk-image.js";

/**
 * GET and HEAD `/v1/manifests/:id/boot/:file` (`kernel` or `initrd`): a boot file of that
 * manifest, assembled from its verified chunks like `/image`; immutable.
 */
export function getManifestBootFile(c: AppContext): Promise<Response> {
  return serveBootFile(c, byManifest(c));
}

/** GET and HEAD `/v1/rootfs/:name/boot/:file`: a boot file of the current manifest; short cache. */
export async function getRootfsBootFile(c: AppContext): Promise<Response> {
  return serveBootFile(c, await byName(c));
}

async function serveBootFile(c: AppContext, target: Target): Promise<Response> {
  const { manifest } = await readManifest(c.var, target.manifestId);
  const kind = c.req.param("file") ?? "";
  const file = pickBootFile(manifest, kind, target.manifestId);
  return serveAssembled(c, {
    list: file,
    offsets: chunkOffsets(file),
    size: file.size,
    etag: bootFileEtag(file),
    lastModified: target.lastModified ?? new Date(manifest.created),
    cacheControl: target.cacheControl,
    what: `${kind} of manifest ${target.manifestId}`,
  });
}

/**
 * The strong ETag of a boot file: its SHA-256 as the signed manifest names it, so the same kernel
 * keeps its validator across rootfs versions (a cache revalidates it with a 304 after a publish
 * that changed only the image) while different bytes always get a different one.
 */
function bootFileEtag(file: Pick<BootFile, "sha256">): string {
  return `"${file.sha256}"`;
}

/** Boot file `kind` of `manifest`, or a 404 saying which ones it has and how to add them. */
function pickBootFile(manifest: Manifest, kind: string, manifestId: string): BootFile {
  const present = bootFileEntries(manifest.boot).map(([name]) => name);
  const file = isBootFileKind(kind) ? manifest.boot?.[kind as BootFileKind] : undefined;
  if (file) return file;
  if (present.length === 0) {
    throw notFound(
      `manifest ${manifestId} has no boot files: publish the rootfs with --kernel (and --initrd) to boot it over the network`,
    );
  }
  const known = isBootFileKind(kind)
    ? `manifest ${manifestId} has no ${kind}`
    : `"${kind.slice(0, 64)}" is not a boot file (they are ${BOOT_FILE_KINDS.join(" and ")})`;
  throw notFound(`${known}; this manifest has: ${present.join(", ")}`);
}
