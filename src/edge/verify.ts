import { type Codec, detectCodec } from "../format/codec.js";
import { FormatError } from "../format/errors.js";
import { toHex } from "../format/hex.js";
import { MAX_CHUNK_BYTES } from "../format/limits.js";
import { unprocessable } from "./http/problem.js";
import { inflateFrame } from "./inflate.js";
import { decodeZstd } from "./zstd.js";

/**
 * Proves that `frame` is one gzip or zstd frame that decompresses to at most MAX_CHUNK_BYTES whose
 * SHA-256 is `id`: gzip streamed through the runtime's inflater into `crypto.DigestStream`, never
 * held inflated; zstd decoded whole by the WebAssembly decoder (at most MAX_CHUNK_BYTES).
 * Throws a 422 problem saying what did not check out.
 */
export async function verifyChunkFrame(frame: Uint8Array, id: string): Promise<void> {
  const codec = detectCodec(frame);
  if (!codec) {
    throw unprocessable(
      "the body is not a gzip (1f 8b) or zstd (28 b5 2f fd) frame: upload the compressed chunk, not the raw bytes",
    );
  }
  let actual: string;
  try {
    actual = await decompressedSha256(frame, codec);
  } catch (error) {
    if (error instanceof FormatError || error instanceof TypeError) {
      throw unprocessable(`${codec} frame rejected: ${error.message}`);
    }
    throw error;
  }
  if (actual !== id) {
    throw unprocessable(
      `the frame decompresses to bytes whose SHA-256 is ${actual}, not ${id}: a chunk is stored under the hash of its uncompressed bytes`,
      { actual },
    );
  }
}

async function decompressedSha256(frame: Uint8Array, codec: Codec): Promise<string> {
  if (codec === "zstd") {
    const bytes = decodeZstd(frame, MAX_CHUNK_BYTES);
    return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  }
  const digest = new crypto.DigestStream("SHA-256");
  digest.digest.catch(() => {});
  await inflateFrame(frame, MAX_CHUNK_BYTES).pipeTo(digest);
  return toHex(new Uint8Array(await digest.digest));
}
