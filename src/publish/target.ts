import type { Ref, RefUpdate } from "../format/ref.js";
import { UserError } from "../lib/errors.js";

/** The ref a publish starts from, with the validator that makes moving it a compare-and-swap. */
export interface CurrentRef {
  ref: Ref;
  etag: string;
}

/** Where a publish writes: an edge over HTTP, or a directory laid out like the read API. */
export interface PublishTarget {
  /** A short description for messages, e.g. the edge URL or the directory. */
  readonly where: string;
  /** The ids among `ids` that the target lacks. */
  missing(ids: readonly string[]): Promise<string[]>;
  putChunk(id: string, frame: Uint8Array): Promise<void>;
  putManifest(id: string, bytes: Uint8Array): Promise<void>;
  getRef(name: string): Promise<CurrentRef | undefined>;
  /** Moves ref `name`, only if it is still `expected` (undefined: only if it does not exist). */
  putRef(name: string, update: RefUpdate, expected: CurrentRef | undefined): Promise<void>;
  close(): Promise<void>;
  /** Chunks the target serves in one response, when it is bounded (an edge's `GET /` limits). */
  chunksPerResponse?(): Promise<number | undefined>;
}

/** A publish step that cannot succeed as asked; the message says what to do. */
export class PublishError extends UserError {
  override name = "PublishError";
}

/** Someone else moved the ref while this publish ran. */
export class RefConflictError extends PublishError {
  override name = "RefConflictError";
}
