import { EDGE_API, type RootfsListing } from "../../format/api.js";
import {
  decodeRefUpdate,
  encodeRef,
  nextHistory,
  type Ref,
  type RefUpdate,
  verifyRefSignature,
} from "../../format/ref.js";
import type { AppContext } from "../context.js";
import { decodeBody, readBody } from "../http/body.js";
import { evaluatePreconditions } from "../http/conditional.js";
import {
  badRequest,
  conflict,
  type HttpProblem,
  notFound,
  preconditionFailed,
  unprocessable,
} from "../http/problem.js";
import { respond } from "../http/respond.js";
import { type CurrentRef, forgetResolvedRef, listSummaries, readRef } from "../reads/refs.js";
import { manifestKey, type ObjectStorage, pendingManifestKey, refKey } from "../storage/index.js";
import { rootfsNameParam } from "./params.js";

/** Cache-Control of refs and the rootfs list: they move, so caches may keep them only briefly. */
export const REF_CACHE_CONTROL = "public, max-age=30";

/** How far ahead of the edge's clock a ref's publish time may be. */
const CLOCK_SKEW_MS = 10 * 60 * 1000;

/** GET `/v1/rootfs`: every rootfs, from the refs' metadata alone (one listing, no reads). */
export async function listRootfs(c: AppContext): Promise<Response> {
  const rootfs = await listSummaries(c.var.storage);
  return c.json({ rootfs } satisfies RootfsListing, 200, { "Cache-Control": REF_CACHE_CONTROL });
}

/** GET and HEAD `/v1/rootfs/:name`: the ref, with an ETag that changes whenever it moves. */
export async function getRef(c: AppContext): Promise<Response> {
  const name = rootfsNameParam(c);
  const stored = await c.var.storage.get(refKey(name));
  if (!stored) throw notFound(`no rootfs named "${name}" is published here`);
  return respond(c.req.raw, {
    size: stored.size,
    etag: `"${stored.etag}"`,
    lastModified: stored.uploaded,
    contentType: "application/json",
    cacheControl: REF_CACHE_CONTROL,
    body: stored.body,
  });
}

/**
 * PUT `/v1/rootfs/:name`: points the rootfs at a stored manifest. A signature, when sent, must
 * verify; the publish time must be later than the current ref's; `If-Match` / `If-None-Match: *`
 * make it a compare-and-swap, and the write itself is conditional on the ref read here, so of two
 * racing writers exactly one wins.
 */
export async function putRef(c: AppContext): Promise<Response> {
  const name = rootfsNameParam(c);
  const body = await readBody(c.req.raw, EDGE_API.ref.maxBytes, "a ref update");
  const update = decodeBody(body, decodeRefUpdate);
  await checkSignature(name, update);
  checkClock(update);
  const storage = c.var.storage;
  const manifest = await storage.head(manifestKey(update.manifest));
  if (!manifest) throw await notComplete(storage, update.manifest);
  const current = await readRef(storage, name);
  checkPreconditions(c.req.raw.headers, current);
  if (current && update.published <= current.ref.published) {
    throw conflict(
      `the ref was published at ${current.ref.published}; an update must be published later than that`,
    );
  }
  const ref: Ref = { name, ...update, previous: nextHistory(current?.ref, update.manifest) };
  const stored = await storage.put(refKey(name), encodeRef(ref), {
    contentType: "application/json",
    customMetadata: {
      manifest: ref.manifest,
      published: ref.published,
      size: manifest.customMetadata.size ?? "0",
      chunks: manifest.customMetadata.chunks ?? "0",
      signed: ref.signature ? "yes" : "no",
      bootable: manifest.customMetadata.bootable === "yes" ? "yes" : "no",
    },
    onlyIf: current ? { etagMatches: current.etag } : { absent: true },
  });
  if (!stored) {
    throw preconditionFailed(
      `rootfs "${name}" was moved by another publisher during this update: read it again and retry`,
    );
  }
  forgetResolvedRef(name);
  return c.json(ref, current ? 200 : 201, { ETag: `"${stored.etag}"` });
}

/** DELETE `/v1/rootfs/:name`: withdraws a rootfs; its manifests and chunks stay until gc. */
export async function deleteRef(c: AppContext): Promise<Response> {
  const name = rootfsNameParam(c);
  const current = await readRef(c.var.storage, name);
  if (!current) throw notFound(`no rootfs named "${name}" is published here`);
  checkPreconditions(c.req.raw.headers, current);
  await c.var.storage.delete(refKey(name));
  forgetResolvedRef(name);
  return c.body(null, 204);
}

/**
 * 409 for a ref update naming a manifest that is not complete here: pending (its chunk check
 * is not finished) or not stored at all. A ref only ever names a complete manifest.
 */
async function notComplete(storage: ObjectStorage, id: string): Promise<HttpProblem> {
  if (await storage.head(pendingManifestKey(id))) {
    return conflict(
      `manifest ${id} is stored but the check of its chunks is not complete: POST ${EDGE_API.manifestCheck.path(id)} until it answers "complete", then move the ref`,
      { manifest: id, state: "pending" },
    );
  }
  return conflict(`manifest ${id} is not stored here: upload it before moving the ref`);
}

function checkPreconditions(headers: Headers, current: CurrentRef | undefined): void {
  if (!current) {
    if (headers.has("If-Match")) {
      throw preconditionFailed("If-Match was sent but this rootfs has no ref yet");
    }
    return;
  }
  const outcome = evaluatePreconditions(headers, { etag: `"${current.etag}"` }, "PUT");
  if (outcome.kind === "bad-request") throw badRequest(outcome.reason);
  if (outcome.kind !== "proceed") {
    throw preconditionFailed(
      `the ref's entity-tag is now "${current.etag}" (it points at ${current.ref.manifest}): someone else moved it`,
    );
  }
}

async function checkSignature(name: string, update: RefUpdate): Promise<void> {
  if (update.signature && !(await verifyRefSignature(name, update))) {
    throw unprocessable(
      "the signature does not verify for this name, manifest and publish time with the key it names",
    );
  }
}

function checkClock(update: RefUpdate): void {
  if (Date.parse(update.published) > Date.now() + CLOCK_SKEW_MS) {
    throw unprocessable(
      `published ${update.published} is in the future by more than 10 minutes: check the publisher's clock`,
    );
  }
}
