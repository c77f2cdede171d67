import { detectCodec } from "../format/codec.js";
import { FormatError } from "../format/errors.js";
import { toHex } from "../format/hex.js";
import type { ObjectId } from "../format/ids.js";
import { chunkAt, chunkOffsets } from "../format/manifest.js";
import type { ResponseCache } from "./cache/index.js";
import { cacheKey } from "./cache/index.js";
import { cacheObject } from "./handlers/immutable.js";
import { inflateFrame } from "./inflate.js";
import { chunkKey, type ObjectStorage } from "./storage/index.js";
import { decodeZstd } from "./zstd.js";

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

/** Where the chunks come from. */
export interface ChunkServices {
  storage: ObjectStorage;
  cache: ResponseCache;
  /** The URL of the request, to build cache keys on this edge. */
  requestUrl: string;
  waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * Bytes `start..end` (inclusive) of the content `list` describes (an image, a boot file),
 * assembled from its chunks: the chunks under the range are taken from the cache or storage a few
 * at a time, ahead of the one being sent, each decompressed and proved against its id before any
 * of its bytes go out, and cut to the range. The stream errors (the response is cut short) rather
 * than send a byte that does not match the list. `what` names the content in logs.
 */
export function chunkListRange(
  list: ChunkList,
  start: number,
  end: number,
  services: ChunkServices,
  offsets: readonly number[] = chunkOffsets(list),
  what = "image",
): ReadableStream<Uint8Array> {
  const first = chunkAt(offsets, start);
  const last = chunkAt(offsets, end);
  if (first < 0 || last < 0) throw new RangeError(`bytes ${start}-${end} are not in the ${what}`);
  const pending: Promise<Uint8Array>[] = [];
  let next = first;
  const fill = () => {
    while (pending.length < IMAGE_READ_AHEAD && next <= last) {
      const loading = verifiedChunk(list, next++, services);
      loading.catch(() => {});
      pending.push(loading);
    }
  };
  let index = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      fill();
      let bytes: Uint8Array;
      try {
        bytes = await (pending.shift() as Promise<Uint8Array>);
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
      else fill();
    },
    cancel() {
      pending.length = 0;
    },
  });
}

/** Chunk `index` of `list`, decompressed and checked against its id and length. */
export async function verifiedChunk(
  list: ChunkList,
  index: number,
  services: ChunkServices,
): Promise<Uint8Array> {
  const id = list.chunks[index] as string;
  const length = list.lengths[index] as number;
  const { frame, remember } = await chunkFrame(id, services);
  const bytes =
    detectCodec(frame) === "zstd"
      ? decodeZstd(frame, length)
      : await collect(inflateFrame(frame, length, { exact: true })).catch((error: unknown) => {
          throw new FormatError(`chunk ${id} does not inflate to ${length} bytes: ${error}`);
        });
  if (bytes.byteLength !== length) {
    throw new FormatError(`chunk ${id} decompresses to ${bytes.byteLength} bytes, not ${length}`);
  }
  const actual = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  if (actual !== id) throw new FormatError(`stored chunk ${id} does not match its id (${actual})`);
  remember?.();
  return bytes;
}

/** A chunk's frame, from the cache or storage; `remember` caches one read from storage, once verified. */
async function chunkFrame(
  id: string,
  services: ChunkServices,
): Promise<{ frame: Uint8Array; remember?: () => void }> {
  const path = `/v1/chunks/${id}`;
  const cached = await services.cache.match(cacheKey(services.requestUrl, path));
  if (cached?.body) return { frame: new Uint8Array(await cached.arrayBuffer()) };
  const stored = await services.storage.get(chunkKey(id));
  if (!stored) throw new FormatError(`chunk ${id} is not stored here`);
  const frame = new Uint8Array(await new Response(stored.body).arrayBuffer());
  const object = {
    key: chunkKey(id),
    path,
    id,
    contentType: "application/octet-stream",
    label: `chunk ${id}`,
  };
  const remember = () =>
    services.waitUntil(
      cacheObject(services.cache, services.requestUrl, object, stored, frame).catch(() => {}),
    );
  return { frame, remember };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
