import { checkChunkId, checkChunkLength, chunkCodec } from "../format/chunk-check.js";
import { FormatError } from "../format/errors.js";
import { sha256Hex, toHex } from "../format/hex.js";
import { MAX_CHUNK_BYTES } from "../format/limits.js";
import { inflateFrame } from "./inflate.js";
import { decodeZstd } from "./zstd.js";

/**
 * The edge's one way to prove a chunk: `frame`, gzip or zstd by its magic (`NotAChunkFrame`
 * otherwise), decompressed (gzip through the runtime's native inflater, zstd by the WebAssembly
 * decoder), its length checked and its SHA-256 compared with `id` (`ChunkIdMismatch`), by the
 * checks of `format/chunk-check.ts`. A frame that does not decompress is a FormatError
 * `<codec> frame rejected: <why>`.
 *
 * With `length` (a chunk of a manifest, being assembled) the bytes are returned, exactly that
 * many. Without (an upload) the chunk may be up to MAX_CHUNK_BYTES and is only proved: a gzip
 * frame is streamed through `crypto.DigestStream`, never held inflated.
 */
export async function openChunk(frame: Uint8Array, id: string, length: number): Promise<Uint8Array>;
export async function openChunk(frame: Uint8Array, id: string): Promise<undefined>;
export async function openChunk(
  frame: Uint8Array,
  id: string,
  length?: number,
): Promise<Uint8Array | undefined> {
  const codec = chunkCodec(frame);
  let bytes: Uint8Array | undefined;
  let streamedDigest: string | undefined;
  try {
    if (codec === "zstd") bytes = decodeZstd(frame, length ?? MAX_CHUNK_BYTES);
    else if (length !== undefined)
      bytes = await collect(inflateFrame(frame, length, { exact: true }));
    else streamedDigest = await sha256OfStream(inflateFrame(frame, MAX_CHUNK_BYTES));
  } catch (error) {
    if (error instanceof FormatError || error instanceof TypeError) {
      throw new FormatError(`${codec} frame rejected: ${error.message}`);
    }
    throw error;
  }
  if (bytes && length !== undefined) checkChunkLength(id, length, bytes.byteLength);
  checkChunkId(id, streamedDigest ?? (await sha256Hex(bytes as Uint8Array)));
  return length === undefined ? undefined : bytes;
}

async function sha256OfStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  digest.digest.catch(() => {});
  await stream.pipeTo(digest);
  return toHex(new Uint8Array(await digest.digest));
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
