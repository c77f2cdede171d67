import { type ChunkStored, EDGE_API, type MissingAnswer } from "../../format/api.js";
import { ChunkIdMismatch, NotAChunkFrame } from "../../format/chunk-check.js";
import { FormatError } from "../../format/errors.js";
import { objectIdProblem } from "../../format/ids.js";
import { parseJsonBytes } from "../../format/json.js";
import { edgeCaps } from "../caps.js";
import type { AppContext } from "../context.js";
import { readBody } from "../http/body.js";
import { badRequest, HttpProblem, notFound, unprocessable } from "../http/problem.js";
import { openChunk } from "../open-chunk.js";
import { CHUNK } from "../reads/objects.js";
import { missingKeys } from "../storage/missing.js";
import { serveImmutable } from "./immutable.js";
import { chunkIdParam } from "./params.js";

/** GET and HEAD `/v1/chunks/:id`: the compressed frame, byte for byte as uploaded. */
export function getChunk(c: AppContext): Promise<Response> {
  return serveChunk(c, chunkIdParam(c));
}

/**
 * GET and HEAD `/v1/castr/:prefix/:id.cacnk`: a chunk under casync's store layout, where
 * `:prefix` is the first four hex digits of the id. Any other path is 404.
 */
export function getCastrChunk(c: AppContext): Promise<Response> {
  const file = c.req.param("file") ?? "";
  const match = /^([0-9a-f]{64})\.cacnk$/.exec(file);
  const id = match?.[1];
  if (!id || c.req.param("prefix") !== id.slice(0, 4)) {
    throw notFound(
      `a casync store path is ${EDGE_API.castr.path()}/<first 4 hex digits>/<64 hex digits>.cacnk`,
    );
  }
  return serveChunk(c, id);
}

/** Answers with chunk `id` (already validated), through the cache. */
function serveChunk(c: AppContext, id: string): Promise<Response> {
  return serveImmutable(c.req.raw, CHUNK, id, c.var);
}

/**
 * PUT `/v1/chunks/:id`: stores a compressed frame once it is proven to decompress to bytes whose
 * SHA-256 is `:id`. A chunk already stored is left as it is (201 when stored now, 200 when it was
 * there), so the bytes behind a chunk's ETag never change.
 */
export async function putChunk(c: AppContext): Promise<Response> {
  const id = chunkIdParam(c);
  const frame = await readBody(c.req.raw, EDGE_API.chunk.maxBytes, "a chunk frame");
  if (frame.byteLength === 0)
    throw badRequest("the body is empty: send the chunk's compressed frame");
  await proveUpload(frame, id);
  const stored = await c.var.storage.put(CHUNK.key(id), frame, {
    contentType: "application/octet-stream",
    onlyIf: { absent: true },
  });
  const answer = { id, size: frame.byteLength, stored: stored !== null } satisfies ChunkStored;
  return c.json(answer, stored ? 201 : 200);
}

/**
 * POST `/v1/chunks/missing`: given `{"ids": [...]}`, answers `{"missing": [...]}`, in the order
 * asked. One storage HEAD per distinct id, so a request asks about at most
 * `missingIdsPerRequest` ids (`GET /` `limits`); more is 413 naming that cap.
 */
export async function findMissingChunks(c: AppContext): Promise<Response> {
  const body = await readBody(c.req.raw, EDGE_API.missingChunks.maxBytes, "the id list");
  const ids = parseIdList(body, edgeCaps(c.var.budget.limit).missingIdsPerRequest);
  const missing = await missingKeys(c.var.storage, ids.map(CHUNK.key));
  const answer = {
    missing: missing.map((key) => key.slice(CHUNK.keyPrefix.length)),
  } satisfies MissingAnswer;
  return c.json(answer);
}

/**
 * Proves an uploaded frame is chunk `id` (`openChunk`: one gzip or zstd frame of at most
 * MAX_CHUNK_BYTES whose SHA-256 is `id`), or throws a 422 problem saying what did not check out.
 */
async function proveUpload(frame: Uint8Array, id: string): Promise<void> {
  try {
    await openChunk(frame, id);
  } catch (error) {
    if (error instanceof NotAChunkFrame) {
      throw unprocessable(
        "the body is not a gzip (1f 8b) or zstd (28 b5 2f fd) frame: upload the compressed chunk, not the raw bytes",
      );
    }
    if (error instanceof ChunkIdMismatch) {
      throw unprocessable(
        `the frame decompresses to bytes whose SHA-256 is ${error.actual}, not ${id}: a chunk is stored under the hash of its uncompressed bytes`,
        { actual: error.actual },
      );
    }
    if (error instanceof FormatError) throw unprocessable(error.message);
    throw error;
  }
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
