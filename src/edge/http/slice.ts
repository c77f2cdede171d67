/**
 * Bytes `start..end` (inclusive) of `body`, streamed: what comes before is dropped as it passes,
 * and the source is cancelled once the slice is complete.
 */
export function sliceStream(
  body: ReadableStream<Uint8Array>,
  start: number,
  end: number,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let position = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          controller.error(new Error(`body ended at byte ${position}, before byte ${end}`));
          return;
        }
        const from = Math.max(start - position, 0);
        const to = Math.min(end + 1 - position, value.byteLength);
        position += value.byteLength;
        if (from < to) controller.enqueue(value.subarray(from, to));
        if (position > end) {
          controller.close();
          await reader.cancel();
          return;
        }
        if (from < to) return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
