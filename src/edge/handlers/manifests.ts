import { EDGE_API, type ManifestCheckAnswer } from "../../format/api.js";
import { sha256Hex } from "../../format/hex.js";
import { decodeManifest } from "../../format/manifest.js";
import { edgeCaps } from "../caps.js";
import type { AppContext } from "../context.js";
import { decodeBody, readBody } from "../http/body.js";
import { badRequest, conflict, HttpProblem, notFound, unprocessable } from "../http/problem.js";
import {
  advanceCheck,
  beginCheck,
  type CheckOutcome,
  pendingManifest,
  resumeCheck,
} from "../manifest-check.js";
import { MANIFEST } from "../reads/objects.js";
import { pendingManifestKey } from "../storage/index.js";
import { serveImmutable } from "./immutable.js";
import { manifestIdParam } from "./params.js";

/**
 * GET and HEAD `/v1/manifests/:id`: the manifest document, byte for byte, once complete. A
 * pending one (its chunk check unfinished) is 404 saying so: only a complete manifest is served.
 */
export async function getManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  try {
    return await serveImmutable(c.req.raw, MANIFEST, id, c.var);
  } catch (error) {
    if (!(error instanceof HttpProblem) || error.status !== 404) throw error;
    if (!(await c.var.storage.head(pendingManifestKey(id)))) throw error;
    throw notFound(
      `manifest ${id} is stored but the check of its chunks is not complete: POST ${EDGE_API.manifestCheck.path(id)} until it answers "complete"`,
    );
  }
}

/**
 * PUT `/v1/manifests/:id`: stores a manifest whose bytes hash to `:id` and that follows the
 * schema in canonical form, as pending, and checks the first batch of its distinct chunks (boot
 * files' included) in the same request. 201 (or 200 if it was already) when every chunk is
 * stored: the manifest is complete; 202 with the progress when more batches remain, to be checked
 * by `POST /v1/manifests/:id/check`; 409 listing the chunks missing from a batch. Storing it again
 * resumes where the last check stopped.
 */
export async function putManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  const bytes = await readBody(c.req.raw, EDGE_API.manifest.maxBytes, "a manifest");
  const actual = await sha256Hex(bytes);
  if (actual !== id) {
    throw unprocessable(
      `the body's SHA-256 is ${actual}, not ${id}: a manifest is stored under the hash of its exact bytes`,
      { actual },
    );
  }
  const entry = pendingManifest(id, decodeBody(bytes, decodeManifest));
  const checked = await beginCheck(c.var.storage, entry, bytes);
  if (checked === undefined) {
    return checkAnswer(c, id, {
      state: "complete",
      stored: false,
      size: entry.size,
      chunks: entry.chunks,
    });
  }
  const batch = edgeCaps(c.var.budget.limit).manifestChunksPerCheck;
  return checkAnswer(
    c,
    id,
    await advanceCheck(c.var.storage, entry, checked, checked, batch, bytes),
  );
}

/**
 * POST `/v1/manifests/:id/check` (`?from=N` optional): checks the next batch of a pending
 * manifest's distinct chunks, from what was verified so far (or from N, when N is not past it),
 * and answers like `PUT /v1/manifests/:id`: 202 with the progress and the next call, 201 once
 * complete, 200 if it already was, 409 listing missing chunks, 404 when nothing of it is stored.
 */
export async function checkManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  const from = fromParam(c.req.query("from"));
  const resumed = await resumeCheck(c.var.storage, id);
  if (resumed === null) {
    throw notFound(`no manifest ${id} is pending here: PUT ${EDGE_API.manifest.path(id)} first`);
  }
  if (resumed === undefined) {
    return c.json({ id, state: "complete", stored: false } satisfies ManifestCheckAnswer, 200);
  }
  const { entry, checked, bytes } = resumed;
  if (from !== undefined && from > checked) {
    throw conflict(
      `the chunks of manifest ${id} are verified up to ${checked}, not ${from}: continue with ?from=${checked}`,
      { checked, total: entry.distinct.length },
    );
  }
  const batch = edgeCaps(c.var.budget.limit).manifestChunksPerCheck;
  return checkAnswer(
    c,
    id,
    await advanceCheck(c.var.storage, entry, from ?? checked, checked, batch, bytes),
  );
}

/**
 * GET `/v1/manifests/:id/pending` (token needed): the bytes of a manifest stored but not yet
 * checked complete, for garbage collection, which keeps its chunks for the grace period.
 */
export async function getPendingManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  const stored = await c.var.storage.get(pendingManifestKey(id));
  if (!stored) throw notFound(`no manifest ${id} is pending here`);
  return new Response(stored.body, {
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

/** The answer to a manifest check: what it found, and what to do next. */
function checkAnswer(c: AppContext, id: string, outcome: CheckOutcome): Response {
  switch (outcome.state) {
    case "complete":
      return c.json(
        {
          id,
          state: "complete",
          size: outcome.size,
          chunks: outcome.chunks,
          stored: outcome.stored,
        } satisfies ManifestCheckAnswer,
        outcome.stored ? 201 : 200,
      );
    case "pending":
      return c.json(
        {
          id,
          state: "pending",
          checked: outcome.checked,
          total: outcome.total,
          next: EDGE_API.manifestCheck.path(id, outcome.checked),
        } satisfies ManifestCheckAnswer,
        202,
      );
    case "missing":
      throw conflict(
        `${outcome.missing.length} of the manifest's chunks are not stored yet: upload them, then PUT the manifest again (it resumes its check from chunk ${outcome.checked} of ${outcome.total})`,
        { missing: outcome.missing, checked: outcome.checked, total: outcome.total },
      );
  }
}

/** The `from` of a check: a whole number, or absent. */
function fromParam(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const from = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(from)) {
    throw badRequest(`from must be a whole number of chunks, not "${value.slice(0, 32)}"`);
  }
  return from;
}
