import type { BootFileKind } from "./boot-files.js";
import type { ObjectId } from "./ids.js";
import {
  MAX_FRAME_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MISSING_QUERY_IDS,
  MAX_REF_BYTES,
} from "./limits.js";
import type { RootfsSummary } from "./ref.js";

/**
 * The edge's HTTP API, version 1, as its clients and the edge share it: every path, and the wire
 * types of the JSON it speaks. A directory mirror is laid out by the same paths (relative to the
 * directory), so a static web server serves the read routes.
 */

/** One resource of the API. */
export interface ApiResource<Args extends unknown[]> {
  /** The route as the edge's router (Hono) writes it: `:name` marks a parameter. */
  readonly route: string;
  /** The path of one instance, from the API's root: `route` with its parameters filled in. */
  readonly path: (...args: Args) => string;
  /** Largest body a request to it or an answer from it carries, where the API bounds it. */
  readonly maxBytes?: number;
}

/** Largest `POST /v1/chunks/missing` body: every id quoted, with room for whitespace. */
const MAX_MISSING_BODY_BYTES = MAX_MISSING_QUERY_IDS * 70 + 1024;

/**
 * Every resource of the API. Ids and names are escaped as path segments; the routes' readers
 * validate them. The listing of rootfs is bounded like a manifest (both grow with what is
 * published, and one is read before any other).
 */
export const EDGE_API = {
  home: { route: "/", path: () => "/" },
  bootMenu: { route: "/boot.ipxe", path: () => "/boot.ipxe" },
  rootfsList: { route: "/v1/rootfs", path: () => "/v1/rootfs", maxBytes: MAX_MANIFEST_BYTES },
  ref: {
    route: "/v1/rootfs/:name",
    path: (name: string) => `/v1/rootfs/${segment(name)}`,
    maxBytes: MAX_REF_BYTES,
  },
  rootfsImage: {
    route: "/v1/rootfs/:name/image",
    path: (name: string) => `/v1/rootfs/${segment(name)}/image`,
  },
  rootfsCaibx: {
    route: "/v1/rootfs/:name/index.caibx",
    path: (name: string) => `/v1/rootfs/${segment(name)}/index.caibx`,
  },
  rootfsIpxe: {
    route: "/v1/rootfs/:name/boot.ipxe",
    path: (name: string) => `/v1/rootfs/${segment(name)}/boot.ipxe`,
  },
  rootfsBootFile: {
    route: "/v1/rootfs/:name/boot/:file",
    path: (name: string, file: BootFileKind) => `/v1/rootfs/${segment(name)}/boot/${file}`,
  },
  manifestList: {
    route: "/v1/manifests",
    path: (state: "complete" | "pending" = "complete", cursor?: string) =>
      withQuery("/v1/manifests", { state: state === "pending" ? state : undefined, cursor }),
  },
  manifest: {
    route: "/v1/manifests/:id",
    path: (id: ObjectId) => `/v1/manifests/${segment(id)}`,
    maxBytes: MAX_MANIFEST_BYTES,
  },
  manifestImage: {
    route: "/v1/manifests/:id/image",
    path: (id: ObjectId) => `/v1/manifests/${segment(id)}/image`,
  },
  manifestCaibx: {
    route: "/v1/manifests/:id/index.caibx",
    path: (id: ObjectId) => `/v1/manifests/${segment(id)}/index.caibx`,
  },
  manifestBootFile: {
    route: "/v1/manifests/:id/boot/:file",
    path: (id: ObjectId, file: BootFileKind) => `/v1/manifests/${segment(id)}/boot/${file}`,
  },
  manifestCheck: {
    route: "/v1/manifests/:id/check",
    path: (id: ObjectId, from?: number) =>
      withQuery(`/v1/manifests/${segment(id)}/check`, { from: from?.toString() }),
  },
  pendingManifest: {
    route: "/v1/manifests/:id/pending",
    path: (id: ObjectId) => `/v1/manifests/${segment(id)}/pending`,
    maxBytes: MAX_MANIFEST_BYTES,
  },
  chunkList: {
    route: "/v1/chunks",
    path: (cursor?: string) => withQuery("/v1/chunks", { cursor }),
  },
  missingChunks: {
    route: "/v1/chunks/missing",
    path: () => "/v1/chunks/missing",
    maxBytes: MAX_MISSING_BODY_BYTES,
  },
  chunk: {
    route: "/v1/chunks/:id",
    path: (id: ObjectId) => `/v1/chunks/${segment(id)}`,
    maxBytes: MAX_FRAME_BYTES,
  },
  castr: { route: "/v1/castr", path: () => "/v1/castr" },
  castrChunk: {
    route: "/v1/castr/:prefix/:file",
    path: (id: ObjectId) => `/v1/castr/${segment(id.slice(0, 4))}/${segment(id)}.cacnk`,
    maxBytes: MAX_FRAME_BYTES,
  },
} as const satisfies Record<string, ApiResource<never[]>>;

/** What one request may ask of an edge: `GET /`'s `limits`, derived from its operation budget. */
export interface EdgeLimits {
  /** Storage and Cache API operations one request may make. */
  operationBudget: number;
  /** Ids one `POST /v1/chunks/missing` may ask about. */
  missingIdsPerRequest: number;
  /** Distinct chunks one manifest check (`PUT /v1/manifests/:id`, `POST …/check`) verifies. */
  manifestChunksPerCheck: number;
  /** Chunks one `/image` or boot-file response may span. */
  chunksPerResponse: number;
}

/** `GET /` with `Accept: application/json`: what the edge serves and what it allows. */
export interface HomeAnswer {
  service: "edgeboot";
  api: "v1";
  /** Every rootfs (the edge adds more facts to each). */
  rootfs: RootfsSummary[];
  /** The URL of the boot menu. */
  boot: string;
  limits: EdgeLimits;
  /** Route templates by name, `{name}` marking a parameter. */
  endpoints: Record<string, string>;
}

/** `GET /v1/rootfs`. */
export interface RootfsListing {
  rootfs: RootfsSummary[];
}

/** The body of `POST /v1/chunks/missing`. */
export interface MissingQuery {
  ids: ObjectId[];
}

/** The answer to `POST /v1/chunks/missing`: the ids not stored, in the order asked. */
export interface MissingAnswer {
  missing: ObjectId[];
}

/** The answer to `PUT /v1/chunks/:id` (201 when stored now, 200 when it was there). */
export interface ChunkStored {
  id: ObjectId;
  size: number;
  stored: boolean;
}

/**
 * The answer to `PUT /v1/manifests/:id` and `POST /v1/manifests/:id/check`: complete (201 stored
 * now, 200 already), or pending (202) with the progress and the call that goes on.
 */
export type ManifestCheckAnswer =
  | { id: ObjectId; state: "complete"; stored: boolean; size?: number; chunks?: number }
  | { id: ObjectId; state: "pending"; checked: number; total: number; next: string };

/** One stored object as `GET /v1/chunks` and `GET /v1/manifests` list it. */
export interface ListedObject {
  id: ObjectId;
  size: number;
  /** ISO 8601 time it was stored. */
  uploaded: string;
}

/** One page of an object listing; pass `cursor` back for the next. */
export interface ObjectPage {
  objects: ListedObject[];
  cursor?: string;
}

/** An error answer, `application/problem+json` (RFC 9457); some carry more members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  /** Written for the person who sent the request: what is wrong and what to do. */
  detail: string;
  instance?: string;
  [member: string]: unknown;
}

/** `resource`'s route as a URI template, `{name}` for each `:name` (as `GET /` lists `endpoints`). */
export function routeTemplate(resource: { readonly route: string }): string {
  return resource.route.replace(/:(\w+)/g, "{$1}");
}

/** The `detail` of a problem+json body, or undefined when `text` is not one. */
export function problemDetail(text: string): string | undefined {
  try {
    const detail = (JSON.parse(text) as Partial<Problem> | null)?.detail;
    return typeof detail === "string" ? detail : undefined;
  } catch {
    return undefined;
  }
}

/** The limits in a `GET /` answer, each undefined where the edge names none (older edges). */
export function edgeLimitsOf(home: unknown): Partial<EdgeLimits> {
  const limits = (home as { limits?: Record<string, unknown> } | null)?.limits;
  const count = (value: unknown) =>
    typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
  return {
    operationBudget: count(limits?.operationBudget),
    missingIdsPerRequest: count(limits?.missingIdsPerRequest),
    manifestChunksPerCheck: count(limits?.manifestChunksPerCheck),
    chunksPerResponse: count(limits?.chunksPerResponse),
  };
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

function withQuery(path: string, query: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) search.set(name, value);
  }
  return search.size > 0 ? `${path}?${search}` : path;
}
