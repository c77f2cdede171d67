import { createRequire } from "node:module";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import type { Codec } from "../format/codec.js";

/** How chunks are compressed. */
export interface CompressOptions {
  codec: Codec;
  level: number;
}

/** Compresses one chunk into one frame, off the main thread. */
export type Compressor = (chunk: Buffer) => Promise<Buffer>;

interface ZstdZlib {
  zstdCompress?: (
    bytes: Buffer,
    options: object,
    done: (error: Error | null, frame: Buffer) => void,
  ) => void;
  constants: { ZSTD_c_compressionLevel?: number };
}

interface ZstdEncoder {
  encode(bytes: Buffer): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);

/**
 * A compressor on native async codecs, which run on libuv's thread pool: compression uses every
 * core while the main thread reads, cuts and hashes the image, and no chunk is copied between
 * threads by JavaScript. zstd frames come from node:zlib where it has zstd (Node 22.15+) and from
 * the native libzstd binding `@toondepauw/node-zstd` otherwise; gzip frames from node:zlib (mtime
 * 0, so the same bytes always give the same frame).
 */
export function createCompressor({ codec, level }: CompressOptions): Compressor {
  if (codec === "gzip") return (chunk) => gzip(chunk, { level });
  const builtin = zlib as unknown as ZstdZlib;
  const { zstdCompress } = builtin;
  if (zstdCompress) {
    const options = { params: { [builtin.constants.ZSTD_c_compressionLevel as number]: level } };
    const compress = promisify(zstdCompress) as (bytes: Buffer, options: object) => Promise<Buffer>;
    return (chunk) => compress(chunk, options);
  }
  const { Encoder } = createRequire(import.meta.url)("@toondepauw/node-zstd") as {
    Encoder: new (level: number) => ZstdEncoder;
  };
  const encoder = new Encoder(level);
  return (chunk) => encoder.encode(chunk);
}
