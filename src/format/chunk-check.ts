import { type Codec, detectCodec } from "./codec.js";
import { FormatError } from "./errors.js";

/**
 * The checks that make decompressed bytes a chunk, shared by every reader of chunks (the edge's
 * `openChunk`, the client's `decodeChunk`): each check has one wording here. The decoding itself
 * is each runtime's own (native where it can be); these are the steps around it.
 */

/** A frame that starts with neither codec's magic number. */
export class NotAChunkFrame extends FormatError {
  override name = "NotAChunkFrame";
  constructor() {
    super("frame is neither gzip nor zstd (it starts with neither 1f 8b nor 28 b5 2f fd)");
  }
}

/** Bytes that decompressed fine but whose SHA-256 is not the chunk's id. */
export class ChunkIdMismatch extends FormatError {
  override name = "ChunkIdMismatch";
  constructor(
    readonly id: string,
    /** The SHA-256 of the bytes found, lowercase hex. */
    readonly actual: string,
  ) {
    super(`chunk ${id} has the wrong bytes (their SHA-256 is ${actual})`);
  }
}

/** The codec of a chunk frame by its magic number; {@link NotAChunkFrame} if it has neither. */
export function chunkCodec(frame: Uint8Array): Codec {
  const codec = detectCodec(frame);
  if (!codec) throw new NotAChunkFrame();
  return codec;
}

/** Refuses a chunk `id` that decompressed to `actual` bytes where its list says `expected`. */
export function checkChunkLength(id: string, expected: number, actual: number): void {
  if (actual !== expected) {
    throw new FormatError(`chunk ${id} decompressed to ${actual} bytes, not ${expected}`);
  }
}

/** Refuses a chunk `id` whose decompressed bytes hash to `actual` (lowercase hex SHA-256). */
export function checkChunkId(id: string, actual: string): void {
  if (actual !== id) throw new ChunkIdMismatch(id, actual);
}
