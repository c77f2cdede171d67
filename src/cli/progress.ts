import { SingleBar } from "cli-progress";
import type { FetchProgress } from "../client/fetch-image.js";
import { mebibytes } from "../format/units.js";
import type { PublishProgress } from "../publish/publish.js";

/** A progress line for a publish on a TTY; nothing at all when stderr is not a terminal. */
export function publishProgressBar(stream: NodeJS.WriteStream = process.stderr) {
  if (!stream.isTTY) return { update: (_: PublishProgress) => {}, stop: () => {} };
  const started = performance.now();
  const bar = new SingleBar({
    stream,
    format:
      "{bar} {percentage}% | {read} of {size} | {chunks} chunks, {fresh} new, {reused} reused | {speed} MB/s | ETA {remaining}",
    barsize: 24,
    hideCursor: true,
  });
  let begun = false;
  return {
    update(p: PublishProgress) {
      const rate = p.bytesRead / Math.max((performance.now() - started) / 1000, 0.001);
      const payload = {
        read: mebibytes(p.bytesRead),
        size: mebibytes(p.imageSize),
        chunks: p.chunks,
        fresh: p.newChunks,
        reused: p.reusedChunks,
        speed: (rate / 1e6).toFixed(0),
        remaining: rate > 0 ? `${Math.ceil((p.imageSize - p.bytesRead) / rate)}s` : "-",
      };
      if (!begun) {
        bar.start(Math.max(p.imageSize, 1), p.bytesRead, payload);
        begun = true;
      } else bar.update(p.bytesRead, payload);
    },
    stop() {
      if (begun) bar.stop();
    },
  };
}

/** A progress line for a fetch on a TTY; nothing at all when stderr is not a terminal. */
export function fetchProgressBar(stream: NodeJS.WriteStream = process.stderr) {
  if (!stream.isTTY) return { update: (_: FetchProgress) => {}, stop: () => {} };
  const started = performance.now();
  const bar = new SingleBar({
    stream,
    format:
      "{bar} {percentage}% | {done} of {size} | {chunksDone}/{chunks} chunks | {speed} MB/s | ETA {eta}s",
    barsize: 24,
    hideCursor: true,
  });
  let begun = false;
  return {
    update(p: FetchProgress) {
      const rate = p.bytesDone / Math.max((performance.now() - started) / 1000, 0.001);
      const payload = {
        done: mebibytes(p.bytesDone),
        size: mebibytes(p.imageSize),
        chunksDone: p.chunksDone,
        chunks: p.chunks,
        speed: (rate / 1e6).toFixed(0),
      };
      if (!begun) {
        bar.start(Math.max(p.imageSize, 1), p.bytesDone, payload);
        begun = true;
      } else bar.update(p.bytesDone, payload);
    },
    stop() {
      if (begun) bar.stop();
    },
  };
}
