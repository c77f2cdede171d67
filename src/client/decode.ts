import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { decodeFrame, detectCodec } from "../format/codec.js";
import { FormatError } from "../format/errors.js";
import { inspectZstdFrame } from "../format/zstd-frame.js";

interface ZstdDecoder {
  decode(frame: Buffer): Promise<Buffer>;
}

const gunzipAsync = promisify(gunzip);
let zstdDecoder: ZstdDecoder | undefined;

/**
 * The chunk `id` of `length` bytes from its compressed frame, proved against its id: decompressed
 * (natively on libuv's thread pool, gzip or zstd by magic), then its SHA-256 compared with `id`.
 * Throws a FormatError for a frame that is not a chunk of that id and length. A zstd frame is
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
  if (bytes.byteLength !== length) {
    throw new FormatError(`chunk ${id} decompressed to ${bytes.byteLength} bytes, not ${length}`);
  }
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== id)
    throw new FormatError(`chunk ${id} has the wrong bytes (their SHA-256 is ${actual})`);
  return bytes;
}

async function decompress(frame: Buffer, length: number): Promise<Uint8Array> {
  const codec = detectCodec(frame);
  if (codec === "gzip") {
    try {
      return await gunzipAsync(frame, { maxOutputLength: Math.max(length, 1) });
    } catch (error) {
      throw new FormatError(`gzip frame does not decode: ${(error as Error).message}`);
    }
  }
  if (codec !== "zstd") throw new FormatError("frame is neither gzip nor zstd");
  const shape = inspectZstdFrame(frame);
  if (shape.contentSize !== undefined && shape.contentSize !== length) {
    throw new FormatError(
      `zstd frame declares ${shape.contentSize} bytes, not the chunk's ${length}`,
    );
  }
  if (shape.outputBound <= length + 128 * 1024) {
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
