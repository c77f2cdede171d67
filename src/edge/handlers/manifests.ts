import { FormatError, FormatSyntaxError } from "../../format/errors.js";
import { sha256Hex } from "../../format/hex.js";
import { MAX_MANIFEST_BYTES } from "../../format/limits.js";
import { allChunkIds, decodeManifest, type Manifest } from "../../format/manifest.js";
import { type AppContext, background } from "../context.js";
import { readBody } from "../http/body.js";
import { badRequest, conflict, unprocessable } from "../http/problem.js";
import { chunkKey, manifestKey } from "../storage/index.js";
import { missingKeys } from "../storage/missing.js";
import { serveImmutable } from "./immutable.js";
import { manifestIdParam } from "./params.js";

/** GET and HEAD `/v1/manifests/:id`: the manifest document, byte for byte. */
export function getManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  return serveImmutable(
    c.req.raw,
    {
      key: manifestKey(id),
      path: `/v1/manifests/${id}`,
      id,
      contentType: "application/json",
      label: `manifest ${id}`,
    },
    { storage: c.var.storage, cache: c.var.cache, waitUntil: background(c) },
  );
}

/**
 * PUT `/v1/manifests/:id`: stores a manifest whose bytes hash to `:id`, that follows the schema in
 * canonical form, and whose every chunk is already stored (409 lists the missing ones).
 */
export async function putManifest(c: AppContext): Promise<Response> {
  const id = manifestIdParam(c);
  const bytes = await readBody(c.req.raw, MAX_MANIFEST_BYTES, "a manifest");
  const actual = await sha256Hex(bytes);
  if (actual !== id) {
    throw unprocessable(
      `the body's SHA-256 is ${actual}, not ${id}: a manifest is stored under the hash of its exact bytes`,
      { actual },
    );
  }
  const manifest = parseManifest(bytes);
  const missing = await missingKeys(
    c.var.storage,
    [...new Set(allChunkIds(manifest))].map(chunkKey),
  );
  if (missing.length > 0) {
    throw conflict(
      `${missing.length} of the manifest's chunks are not stored yet: upload them first, then the manifest`,
      { missing: missing.map((key) => key.slice("chunks/".length)) },
    );
  }
  const stored = await c.var.storage.put(manifestKey(id), bytes, {
    contentType: "application/json",
    customMetadata: {
      size: String(manifest.size),
      chunks: String(manifest.chunks.length),
      bootable: manifest.boot ? "yes" : "no",
    },
    onlyIf: { absent: true },
  });
  return c.json(
    { id, size: manifest.size, chunks: manifest.chunks.length, stored: stored !== null },
    stored ? 201 : 200,
  );
}

function parseManifest(bytes: Uint8Array): Manifest {
  try {
    return decodeManifest(bytes);
  } catch (error) {
    if (error instanceof FormatSyntaxError) throw badRequest(error.message);
    if (error instanceof FormatError) throw unprocessable(error.message, { field: error.field });
    throw error;
  }
}
