import { detectCodec } from "../format/codec.js";
import { FormatError } from "../format/errors.js";

/** Compressed bytes handed to the native decoder at a time: bounds what one step can inflate to. */
const FEED_BYTES = 4096;

/**
 * The decompressed bytes of one gzip chunk frame, streamed and cut off past `maxBytes` (with
 * `exact`, refused unless exactly `maxBytes`), through the runtime's native DecompressionStream
 * (several times faster than any JS inflater, which matters under the Workers CPU limit; in workerd
 * it also refuses trailing bytes and a second member). Failures, a frame that is not gzip included,
 * surface as stream errors. zstd frames go to `decodeZstd` (zstd.ts) instead.
 */
export function inflateFrame(
  frame: Uint8Array,
  maxBytes: number,
  { exact = false }: { exact?: boolean } = {},
): ReadableStream<Uint8Array> {
  if (detectCodec(frame) !== "gzip") {
    return new ReadableStream({
      start: (controller) => controller.error(new FormatError("not a gzip frame")),
    });
  }
  const gunzip = new DecompressionStream("gzip");
  const writer = gunzip.writable.getWriter();
  const feed = async () => {
    for (let at = 0; at < frame.byteLength; at += FEED_BYTES) {
      await writer.write(frame.subarray(at, at + FEED_BYTES));
    }
    await writer.close();
  };
  feed().catch(() => {});
  // With `exact` (a manifest's chunk, whose length is known), a FixedLengthStream enforces the
  // length natively, fewer bytes included; outputLimit runs JavaScript for every piece the
  // inflater emits, which costs about twice the inflating itself in workerd.
  return gunzip.readable.pipeThrough(
    exact ? new FixedLengthStream(maxBytes) : outputLimit(maxBytes),
  );
}

function outputLimit(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        throw new FormatError(`frame decompresses to more than ${maxBytes} bytes (the limit)`);
      }
      controller.enqueue(chunk);
    },
  });
}
