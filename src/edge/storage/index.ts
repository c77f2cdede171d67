import type { ObjectId } from "../../format/ids.js";

/** What the store knows about an object without reading it. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** The store's own entity tag (unquoted); it changes whenever the object is rewritten. */
  etag: string;
  uploaded: Date;
  customMetadata: Record<string, string>;
}

/** An object with its body, streamed. */
export interface StoredObject extends ObjectInfo {
  body: ReadableStream<Uint8Array>;
}

/** A condition on a write: only if the object is absent, or only if its etag is still this one. */
export type WriteCondition = { absent: true } | { etagMatches: string };

export interface PutOptions {
  contentType?: string;
  customMetadata?: Record<string, string>;
  onlyIf?: WriteCondition;
}

export interface ListPage {
  objects: ObjectInfo[];
  cursor?: string;
}

/**
 * The object store behind the edge. Keys are `chunks/<id>`, `manifests/<id>`, `refs/<name>` and,
 * while a manifest's chunks are being checked, `pending/manifests/<id>` and `pending/checks/<id>`;
 * the edge never builds a key from anything but a validated id or name.
 */
export interface ObjectStorage {
  head(key: string): Promise<ObjectInfo | null>;
  get(key: string): Promise<StoredObject | null>;
  /** Stores `body`; resolves to null, storing nothing, when `onlyIf` does not hold. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<ObjectInfo | null>;
  delete(key: string): Promise<void>;
  list(prefix: string, cursor?: string): Promise<ListPage>;
}

/** The prefix under which every chunk's compressed frame lives. */
export const CHUNK_PREFIX = "chunks/";
/** The prefix under which every complete manifest lives. */
export const MANIFEST_PREFIX = "manifests/";
/** The key of a chunk's compressed frame. */
export const chunkKey = (id: ObjectId): string => `${CHUNK_PREFIX}${id}`;
/** The key of a manifest document. */
export const manifestKey = (id: ObjectId): string => `${MANIFEST_PREFIX}${id}`;
/** The key of a manifest stored but not yet checked complete (`manifest-check.ts`). */
export const pendingManifestKey = (id: ObjectId): string => `pending/manifests/${id}`;
/** The key of a pending manifest's check progress (in its metadata: `checked`). */
export const checkProgressKey = (id: ObjectId): string => `pending/checks/${id}`;
/** The prefix under which every pending manifest lives. */
export const PENDING_MANIFEST_PREFIX = "pending/manifests/";
/** The key of a rootfs ref. */
export const refKey = (name: string): string => `refs/${name}`;
/** The prefix under which every ref lives. */
export const REF_PREFIX = "refs/";
