import { SingleBar } from "cli-progress";
import type { FetchProgress } from "../client/fetch-image.js";
import { mebibytes } from "../lib/units.js";
import type { PublishProgress } from "../publish/publish.js";

/** A progress line: `update` as work goes, `stop` at the end (twice is harmless). */
export interface ProgressLine<T> {
  update(progress: T): void;
  stop(): void;
}

/**
 * A cli-progress bar on `stream` when it is a TTY, nothing at all otherwise. `measure` gives the
 * bytes done, the bytes in all, and the fields of `format` besides the bar, percentage, speed and
 * ETA (which are computed here).
 */
function progressLine<T>(
  format: string,
  measure: (progress: T) => { done: number; total: number; fields: Record<string, unknown> },
  stream: NodeJS.WriteStream,
): ProgressLine<T> {
  if (!stream.isTTY) return { update: () => {}, stop: () => {} };
  const started = performance.now();
  const bar = new SingleBar({
    stream,
    format: `{bar} {percentage}% | ${format} | {speed} MB/s | ETA {remaining}`,
    barsize: 24,
    hideCursor: true,
  });
  let begun = false;
  return {
    update(progress: T) {
      const { done, total, fields } = measure(progress);
      const rate = done / Math.max((performance.now() - started) / 1000, 0.001);
      const payload = {
        ...fields,
        speed: (rate / 1e6).toFixed(0),
        remaining: rate > 0 ? `${Math.ceil((total - done) / rate)}s` : "-",
      };
      if (!begun) {
        bar.start(Math.max(total, 1), done, payload);
        begun = true;
      } else bar.update(done, payload);
    },
    stop() {
      if (begun) bar.stop();
      begun = false;
    },
  };
}

/** The progress line of a publish: bytes read (image and boot files), chunks new and reused, ETA. */
export function publishProgressBar(stream = process.stderr): ProgressLine<PublishProgress> {
  return progressLine<PublishProgress>(
    "{read} of {size} | {chunks} chunks, {fresh} new, {reused} reused",
    (p) => ({
      done: p.bytesRead,
      total: p.imageSize + p.bootSize,
      fields: {
        read: mebibytes(p.bytesRead),
        size: mebibytes(p.imageSize + p.bootSize),
        chunks: p.chunks,
        fresh: p.newChunks,
        reused: p.reusedChunks,
      },
    }),
    stream,
  );
}

/** The progress line of a fetch: bytes and chunks written, MB/s, ETA. */
export function fetchProgressBar(stream = process.stderr): ProgressLine<FetchProgress> {
  return progressLine<FetchProgress>(
    "{done} of {size} | {chunksDone}/{chunks} chunks",
    (p) => ({
      done: p.bytesDone,
      total: p.imageSize,
      fields: {
        done: mebibytes(p.bytesDone),
        size: mebibytes(p.imageSize),
        chunksDone: p.chunksDone,
        chunks: p.chunks,
      },
    }),
    stream,
  );
}

/**
 * One status line on `stream` when it is a TTY, `PREFIX: step…`, replaced at each step and
 * cleared by `stop`; nothing at all otherwise.
 */
export function stepLine(
  prefix: string,
  stream: NodeJS.WriteStream,
): { step: (text: string) => void; stop: () => void } {
  if (!stream.isTTY) return { step: () => {}, stop: () => {} };
  let shown = false;
  return {
    step(text) {
      stream.write(`\r\x1b[2K${prefix}: ${text}…`);
      shown = true;
    },
    stop() {
      if (shown) stream.write("\r\x1b[2K");
      shown = false;
    },
  };
}
