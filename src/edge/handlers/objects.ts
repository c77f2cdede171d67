import type { ListedObject, ObjectPage } from "../../format/api.js";
import type { AppContext } from "../context.js";
import { badRequest, notFound } from "../http/problem.js";
import { CHUNK, forgetCached, MANIFEST, type ObjectKind } from "../reads/objects.js";
import { checkProgressKey, PENDING_MANIFEST_PREFIX, pendingManifestKey } from "../storage/index.js";
import { chunkIdParam, manifestIdParam } from "./params.js";

/** Longest cursor accepted back from a client: R2's are far shorter. */
const MAX_CURSOR_LENGTH = 1024;

/**
 * GET `/v1/chunks` (token needed): one page of every stored chunk, `{objects, cursor?}`; pass the
 * cursor back as `?cursor=` for the next page. What garbage collection sweeps from.
 */
export function listChunks(c: AppContext): Promise<Response> {
  return listPage(c, CHUNK.keyPrefix);
}

/**
 * GET `/v1/manifests` (token needed): one page of every complete manifest, like
 * {@link listChunks}; `?state=pending`: of every manifest whose chunk check is not complete.
 */
export function listManifests(c: AppContext): Promise<Response> {
  const state = c.req.query("state") ?? "complete";
  if (state === "pending") return listPage(c, PENDING_MANIFEST_PREFIX);
  if (state !== "complete")
    throw badRequest(`state is "complete" or "pending", not "${state.slice(0, 32)}"`);
  return listPage(c, MANIFEST.keyPrefix);
}

/**
 * DELETE `/v1/chunks/:id` (token needed): removes a chunk, and this location's cached copy.
 * Meant for garbage collection, which deletes only what no ref reaches.
 */
export function deleteChunk(c: AppContext): Promise<Response> {
  const id = chunkIdParam(c);
  return deleteObject(c, CHUNK, id);
}

/**
 * DELETE `/v1/manifests/:id` (token needed): removes a manifest, complete or pending (with its
 * check's progress), like {@link deleteChunk}.
 */
export async function deleteManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  const storage = c.var.storage;
  const pending = await storage.head(pendingManifestKey(id));
  if (pending) {
    await storage.delete(pendingManifestKey(id));
    await storage.delete(checkProgressKey(id));
  }
  if (pending && !(await storage.head(MANIFEST.key(id)))) return c.body(null, 204);
  return deleteObject(c, MANIFEST, id);
}

async function listPage(c: AppContext, prefix: string): Promise<Response> {
  const cursor = c.req.query("cursor") || undefined;
  if (cursor && cursor.length > MAX_CURSOR_LENGTH) throw badRequest("the cursor is too long");
  const page = await c.var.storage.list(prefix, cursor);
  const objects: ListedObject[] = page.objects.map((object) => ({
    id: object.key.slice(prefix.length),
    size: object.size,
    uploaded: object.uploaded.toISOString(),
  }));
  const answer: ObjectPage = page.cursor ? { objects, cursor: page.cursor } : { objects };
  return c.json(answer, 200, {
    "Cache-Control": "no-store",
  });
}

async function deleteObject(c: AppContext, kind: ObjectKind, id: string) {
  const storage = c.var.storage;
  if (!(await storage.head(kind.key(id)))) throw notFound(`no ${kind.name} ${id} is stored here`);
  await storage.delete(kind.key(id));
  await forgetCached(c.var, kind, id);
  return c.body(null, 204);
}
