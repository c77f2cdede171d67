import { FormatError } from "../format/errors.js";
import type { ObjectId } from "../format/ids.js";
import { chunkAt, chunkOffsets } from "../format/manifest.js";
import { OrderedReadAhead } from "../lib/ordered-read-ahead.js";
import { openChunk } from "./open-chunk.js";
import { CHUNK, type ReadServices, readThrough } from "./reads/objects.js";

/** Chunks loaded ahead of the one being sent: bounds memory to a few chunks whatever the range. */
export const IMAGE_READ_AHEAD = 4;

/**
 * Content cut into chunks, in order: an image (a manifest) or one of its boot files. Offsets follow
 * from the lengths (`chunkOffsets`).
 */
export interface ChunkList {
  chunks: ObjectId[];
  /** Uncompressed length of each chunk, parallel to `chunks`. */
  lengths: number[];
}

/**
 * Bytes `start..end` (inclusive) of the content `list` describes (an image, a boot file),
 * assembled from its chunks: the chunks under the range are read through the cache a few at a
 * time, ahead of the one being sent, each opened (`openChunk`: decompressed and proved against its
 * id and length) before any of its bytes go out, and cut to the range; a chunk read from storage
 * is put in the cache once proved. The stream errors (the response is cut short) rather
 * than send a byte that does not match the list. `what` names the content in logs.
 */
export function chunkListRange(
  list: ChunkList,
  start: number,
  end: number,
  services: ReadServices,
  offsets: readonly number[] = chunkOffsets(list),
  what = "image",
): ReadableStream<Uint8Array> {
  const first = chunkAt(offsets, start);
  const last = chunkAt(offsets, end);
  if (first < 0 || last < 0) throw new RangeError(`bytes ${start}-${end} are not in the ${what}`);
  const ahead = new OrderedReadAhead(
    (index) => verifiedChunk(list, index, services),
    first,
    last + 1,
    { loading: () => IMAGE_READ_AHEAD },
  );
  let index = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let bytes: Uint8Array;
      try {
        bytes = await ahead.take();
      } catch (error) {
        console.error(`${what} cut short at chunk ${index}:`, (error as Error).message);
        throw error;
      }
      const at = offsets[index] as number;
      const from = Math.max(start - at, 0);
      const to = Math.min(end + 1 - at, bytes.byteLength);
      controller.enqueue(bytes.subarray(from, to));
      index++;
      if (index > last) controller.close();
    },
    cancel() {
      ahead.cancel();
    },
  });
}

/** Chunk `index` of `list`, read through the cache and opened (checked against its id and length). */
async function verifiedChunk(
  list: ChunkList,
  index: number,
  services: ReadServices,
): Promise<Uint8Array> {
  const id = list.chunks[index] as string;
  const read = await readThrough(services, CHUNK, id);
  if (!read) throw new FormatError(`chunk ${id} is not stored here`);
  const bytes = await openChunk(read.bytes, id, list.lengths[index] as number);
  read.fill?.();
  return bytes;
}
