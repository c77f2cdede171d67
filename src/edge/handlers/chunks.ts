import { objectIdProblem } from "../../format/ids.js";
import { parseJsonBytes } from "../../format/json.js";
import { MAX_FRAME_BYTES, MAX_MISSING_QUERY_IDS } from "../../format/limits.js";
import { edgeCaps } from "../caps.js";
import { type AppContext, background } from "../context.js";
import { readBody } from "../http/body.js";
import { badRequest, HttpProblem } from "../http/problem.js";
import { chunkKey } from "../storage/index.js";
import { missingKeys } from "../storage/missing.js";
import { verifyChunkFrame } from "../verify.js";
import { serveImmutable } from "./immutable.js";
import { chunkIdParam } from "./params.js";

/** Largest `POST /v1/chunks/missing` body: every id quoted, with room for whitespace. */
const MAX_MISSING_BODY_BYTES = MAX_MISSING_QUERY_IDS * 70 + 1024;

/** GET and HEAD `/v1/chunks/:id`: the compressed frame, byte for byte as uploaded. */
export function getChunk(c: AppContext): Promise<Response> {
  return serveChunk(c, chunkIdParam(c));
}

/** Answers with chunk `id` (already validated), through the cache; also casync's store layout. */
export function serveChunk(c: AppContext, id: string): Promise<Response> {
  return serveImmutable(
    c.req.raw,
    {
      key: chunkKey(id),
      path: `/v1/chunks/${id}`,
      id,
      contentType: "application/octet-stream",
      label: `chunk ${id}`,
    },
    { storage: c.var.storage, cache: c.var.cache, waitUntil: background(c) },
  );
}

/**
 * PUT `/v1/chunks/:id`: stores a compressed frame once it is proven to decompress to bytes whose
 * SHA-256 is `:id`. A chunk already stored is left as it is (201 when stored now, 200 when it was
 * there), so the bytes behind a chunk's ETag never change.
 */
export async function putChunk(c: AppContext): Promise<Response> {
  const id = chunkIdParam(c);
  const frame = await readBody(c.req.raw, MAX_FRAME_BYTES, "a chunk frame");
  if (frame.byteLength === 0)
    throw badRequest("the body is empty: send the chunk's compressed frame");
  await verifyChunkFrame(frame, id);
  const stored = await c.var.storage.put(chunkKey(id), frame, {
    contentType: "application/octet-stream",
    onlyIf: { absent: true },
  });
  return c.json({ id, size: frame.byteLength, stored: stored !== null }, stored ? 201 : 200);
}

/**
 * POST `/v1/chunks/missing`: given `{"ids": [...]}`, answers `{"missing": [...]}`, in the order
 * asked. One storage HEAD per distinct id, so a request asks about at most
 * `missingIdsPerRequest` ids (`GET /` `limits`); more is 413 naming that cap.
 */
export async function findMissingChunks(c: AppContext): Promise<Response> {
  const body = await readBody(c.req.raw, MAX_MISSING_BODY_BYTES, "the id list");
  const ids = parseIdList(body, edgeCaps(c.var.budget.limit).missingIdsPerRequest);
  const missing = await missingKeys(c.var.storage, ids.map(chunkKey));
  return c.json({ missing: missing.map((key) => key.slice("chunks/".length)) });
}

/** 413 when a missing-check asks about more ids than `cap`, saying to split it. */
export function missingBatchProblem(ids: number, cap: number): HttpProblem | undefined {
  if (ids <= cap) return undefined;
  return new HttpProblem(
    413,
    "Content Too Large",
    `ask about at most ${cap} ids per request, not ${ids}: this edge makes one storage operation per id and a request may make ${cap} (GET / lists it as limits.missingIdsPerRequest); split the list`,
    { limit: cap },
  );
}

function parseIdList(body: Uint8Array, cap: number): string[] {
  let doc: unknown;
  try {
    doc = parseJsonBytes(body, "the body");
  } catch {
    throw badRequest('the body is not JSON: send {"ids": ["<chunk id>", ...]}');
  }
  const ids = (doc as { ids?: unknown } | null)?.ids;
  if (!Array.isArray(ids)) throw badRequest('the body must be {"ids": ["<chunk id>", ...]}');
  const tooMany = missingBatchProblem(ids.length, cap);
  if (tooMany) throw tooMany;
  for (const [index, id] of ids.entries()) {
    const problem =
      typeof id === "string"
        ? objectIdProblem(id, `ids[${index}]`)
        : `ids[${index}] is not a string`;
    if (problem) throw badRequest(problem);
  }
  return ids as string[];
}
