import { createRequire } from "node:module";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { checkChunkId, checkChunkLength, chunkCodec } from "../format/chunk-check.js";
import { decodeFrame } from "../format/codec.js";
import { FormatError } from "../format/errors.js";
import { inspectZstdFrame, ZSTD_MAX_BLOCK } from "../format/zstd-frame.js";
import { sha256HexNative } from "../lib/sha256-native.js";

interface ZstdDecoder {
  decode(frame: Buffer): Promise<Buffer>;
}

const gunzipAsync = promisify(gunzip);
let zstdDecoder: ZstdDecoder | undefined;

/**
 * The chunk `id` of `length` bytes from its compressed frame, proved against its id: decompressed
 * (natively on libuv's thread pool, gzip or zstd by magic), then its length and SHA-256 checked
 * (`format/chunk-check.ts`, the checks every reader of chunks makes). Throws a FormatError for a
 * frame that is not a chunk of that id and length: the client's one way to open a chunk. A zstd frame is
 * handed to the native decoder only when it is one frame whose block headers bound its output
 * near `length` (a frame could otherwise ask for gigabytes); any other goes to the shared decoder,
 * which stops at the limit.
 */
export async function decodeChunk(
  frame: Uint8Array,
  id: string,
  length: number,
): Promise<Uint8Array> {
  const bytes = await decompress(
    Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
    length,
  );
  checkChunkLength(id, length, bytes.byteLength);
  checkChunkId(id, sha256HexNative(bytes));
  return bytes;
}

async function decompress(frame: Buffer, length: number): Promise<Uint8Array> {
  const codec = chunkCodec(frame);
  if (codec === "gzip") {
    try {
      return await gunzipAsync(frame, { maxOutputLength: Math.max(length, 1) });
    } catch (error) {
      throw new FormatError(`gzip frame does not decode: ${(error as Error).message}`);
    }
  }
  const shape = inspectZstdFrame(frame);
  if (shape.contentSize !== undefined && shape.contentSize !== length) {
    throw new FormatError(
      `zstd frame declares ${shape.contentSize} bytes, not the chunk's ${length}`,
    );
  }
  if (shape.outputBound <= length + ZSTD_MAX_BLOCK) {
    try {
      return await nativeZstd().decode(frame);
    } catch (error) {
      throw new FormatError(`zstd frame does not decode: ${(error as Error).message}`);
    }
  }
  return decodeFrame(frame, { maxOutputBytes: length });
}

function nativeZstd(): ZstdDecoder {
  if (!zstdDecoder) {
    const { Decoder } = createRequire(import.meta.url)("@toondepauw/node-zstd") as {
      Decoder: new () => ZstdDecoder;
    };
    zstdDecoder = new Decoder();
  }
  return zstdDecoder;
}
