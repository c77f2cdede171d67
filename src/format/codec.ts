import { type DeflateOptions, gzipSync, Inflate } from "fflate";
import { concatBytes } from "../lib/bytes.js";
import { FormatError } from "./errors.js";
import { Decompress } from "./vendor/fzstd.js";
import {
  parseZstdBlockHeader,
  parseZstdFrameHeader,
  ZSTD_BLOCK,
  ZSTD_MAX_BLOCK,
  type ZstdFrameHeader,
  zstdFrameHeaderLength,
  zstdWindowSize,
} from "./zstd-frame.js";

/** A chunk's compression: gzip (RFC 1952) or zstd (RFC 8878), one frame per chunk. */
export type Codec = "gzip" | "zstd";

/** Every codec a chunk may use. */
export const CODECS: readonly Codec[] = Object.freeze(["gzip", "zstd"] as const);

/** Whether `v` names a codec. */
export function isCodec(v: unknown): v is Codec {
  return v === "gzip" || v === "zstd";
}

/** Limits for decoding one frame. */
export interface DecodeOptions {
  /** Most bytes the frame may decompress to, enforced while decoding. */
  maxOutputBytes: number;
}

const MAGIC: Record<Codec, string> = { gzip: "1f 8b", zstd: "28 b5 2f fd" };
const MAX_GZIP_HEADER = 4096;
const EMPTY: Uint8Array = new Uint8Array(0);

/** The codec of a frame by its magic bytes (the first 2 for gzip, 4 for zstd), if any. */
export function detectCodec(bytes: Uint8Array): Codec | undefined {
  const head = hex(bytes.subarray(0, 4));
  return CODECS.find((c) => head.startsWith(MAGIC[c]));
}

/** `data` as one gzip frame, the same bytes for the same input and level (mtime 0, no name). */
export function gzipFrame(data: Uint8Array, level = 6): Uint8Array {
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new RangeError(`gzip level must be an integer from 0 to 9, not ${level}`);
  }
  return gzipSync(data, { level: level as DeflateOptions["level"], mtime: 0 });
}

/**
 * Decompresses one whole frame (gzip or zstd, by magic). Refuses with a FormatError an unknown
 * format, a truncated or corrupt frame, any byte after the frame (a second gzip member or zstd
 * frame included) and output over `maxOutputBytes`, checked while decoding so that a bomb stops
 * at the limit. gzip's CRC-32 and length are verified; zstd's content checksum is not (fzstd has
 * no XXH64), so check the output against the chunk id.
 */
export async function decodeFrame(frame: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  frameDecoder(options, (bytes) => parts.push(bytes), false)(frame, true);
  return concatBytes(parts);
}

/**
 * The streaming form of {@link decodeFrame}: the frame in pieces of any size in, decompressed
 * bytes out as they come. The stream errors with a FormatError on the same conditions, including
 * a frame cut short when the input ends. The decoder holds small buffers whatever the frame's
 * size (and a zstd frame's window, capped by the limit); the output of one input piece is
 * enqueued at once, and never passes the limit.
 */
export function createFrameDecoder(
  options: DecodeOptions,
): TransformStream<Uint8Array, Uint8Array> {
  let controller: TransformStreamDefaultController<Uint8Array> | undefined;
  const decode = frameDecoder(options, (bytes) => controller?.enqueue(bytes), true);
  return new TransformStream<Uint8Array, Uint8Array>({
    start: (c) => {
      controller = c;
    },
    transform: (piece) => decode(piece, false),
    flush: () => decode(EMPTY, true),
  });
}

type Sink = (bytes: Uint8Array) => void;

/** Takes the next bytes of a frame and returns those past its end; throws if `final` is early. */
type Engine = (input: Uint8Array, final: boolean) => Uint8Array;

/** Detects the codec, enforces the limit and refuses anything after the frame. */
function frameDecoder(options: DecodeOptions, sink: Sink, streaming: boolean) {
  const limit = options.maxOutputBytes;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`maxOutputBytes must be a non-negative integer, not ${limit}`);
  }
  let [head, produced] = [EMPTY, 0];
  let codec: Codec | undefined;
  let engine: Engine | undefined;
  const emit: Sink = (bytes) => {
    produced += bytes.length;
    if (produced > limit) {
      throw new FormatError(`frame decompresses to more than ${limit} bytes (the limit)`);
    }
    if (bytes.length > 0) sink(bytes);
  };
  return (piece: Uint8Array, final: boolean): void => {
    let input = piece;
    if (!engine) {
      input = concatBytes([head, piece]);
      codec = detectCodec(input);
      if (!codec) {
        if (input.length >= 4 || !CODECS.some((c) => MAGIC[c].startsWith(hex(input)))) {
          const expected = `gzip (${MAGIC.gzip}) or zstd (${MAGIC.zstd})`;
          const got = hex(input.subarray(0, 4));
          throw new FormatError(`unknown frame format: expected ${expected}, got ${got}`);
        }
        if (final && input.length === 0) throw new FormatError("frame is empty");
        if (final) throw new FormatError("frame is truncated: it ends inside its magic number");
        head = input;
        return;
      }
      engine = codec === "gzip" ? gzipEngine(emit, limit) : zstdEngine(emit, limit);
    }
    let rest: Uint8Array;
    try {
      rest = engine(input, final);
    } catch (e) {
      throw e instanceof FormatError ? e : corrupt(codec ?? "gzip", `${(e as Error).message ?? e}`);
    }
    if (rest.length === 0) return;
    const next = detectCodec(rest);
    throw new FormatError(
      next
        ? `frame is followed by a second ${next} ${next === "gzip" ? "member" : "frame"}: a chunk is one frame`
        : `frame has ${streaming ? "at least " : ""}${rest.length} bytes after the end of the compressed data`,
    );
  };
}

function corrupt(codec: Codec, why: string): FormatError {
  return new FormatError(`${codec} frame is corrupt: ${why}`);
}

/** What fflate 0.8's Gunzip itself reads of an Inflate's state to find where a member ends. */
interface InflateInternals {
  s: { f?: number; l?: unknown; p: number };
  p: Uint8Array;
}

/** gzip: header and trailer read here (RFC 1952), the deflate data inflated by fflate. */
function gzipEngine(emit: Sink, limit: number): Engine {
  let part: "header" | "data" | "trailer" | "done" = "header";
  let buf = EMPTY;
  let queue: Uint8Array[] = [];
  let [queued, crc, size] = [0, 0, 0];
  const inflate = new Inflate((data) => {
    [crc, size] = [crc32(data, crc), size + data.length];
    emit(data);
  });
  return (input, final) => {
    let rest = input;
    if (part === "header") {
      buf = concatBytes([buf, input]);
      const n = gzipHeaderLength(buf);
      if ((n ?? buf.length) > MAX_GZIP_HEADER) {
        throw new FormatError(`gzip header is longer than ${MAX_GZIP_HEADER} bytes`);
      }
      [rest, part, buf] = n === undefined ? [EMPTY, part, buf] : [buf.subarray(n), "data", EMPTY];
    }
    if (part === "data") {
      queue.push(rest);
      [queued, rest] = [queued + rest.length, EMPTY];
    }
    while (part === "data") {
      // A byte of deflate data inflates to at most 1032 bytes: a slice's output, and fflate's
      // buffers for it, stay within the part of the limit not yet used. Each push to fflate
      // costs it a new 160 KiB buffer, so small pieces are gathered into a slice first.
      const step = Math.min(65536, Math.max(512, Math.floor((limit - size) / 4096)));
      if (queued === 0 || (queued < step && !final)) break;
      const data = concatBytes(queue);
      [queue, queued] = [[data.subarray(step)], Math.max(0, queued - step)];
      inflate.push(data.subarray(0, step));
      const { s, p } = inflate as unknown as InflateInternals;
      if (!s.f || s.l) continue;
      rest = concatBytes([p.subarray((s.p + 7) >> 3), ...queue]);
      [queue, queued, part] = [[], 0, "trailer"];
    }
    if (part === "trailer") {
      const take = 8 - buf.length;
      [buf, rest] = [concatBytes([buf, rest.subarray(0, take)]), rest.subarray(take)];
    }
    if (part === "trailer" && buf.length === 8) {
      const [wantCrc, wantSize] = [readLE(buf, 0, 4), readLE(buf, 4, 4)];
      const why =
        wantCrc !== crc
          ? `its data has CRC-32 ${crc.toString(16)}, its trailer says ${wantCrc.toString(16)}`
          : wantSize !== size % 2 ** 32
            ? `it decompresses to ${size} bytes, its trailer says ${wantSize}`
            : undefined;
      if (why) throw corrupt("gzip", why);
      part = "done";
    }
    if (final && part !== "done") {
      throw new FormatError(`gzip frame is truncated: it ends inside its ${part}`);
    }
    return rest;
  };
}

/** The length of the gzip header at the start of `b`, undefined while incomplete. */
function gzipHeaderLength(b: Uint8Array): number | undefined {
  if (b.length < 10) return undefined;
  if (b[2] !== 8) throw new FormatError(`gzip frame uses compression method ${b[2]}, not 8`);
  const flags = b[3] ?? 0;
  if (flags & 0xe0) throw new FormatError(`gzip header has reserved flags set (${flags})`);
  let n = flags & 4 ? (b.length < 12 ? Number.POSITIVE_INFINITY : 12 + readLE(b, 10, 2)) : 10;
  for (const flag of [8, 16]) {
    const zero = flags & flag && n < b.length ? b.indexOf(0, n) : -1;
    if (flags & flag) n = zero < 0 ? Number.POSITIVE_INFINITY : zero + 1;
  }
  n += flags & 2;
  if (n > b.length) return undefined;
  if (flags & 2 && (crc32(b.subarray(0, n - 2)) & 0xffff) !== readLE(b, n - 2, 2)) {
    throw corrupt("gzip", "its header CRC does not match");
  }
  return n;
}

/** zstd: frame and block structure followed here (RFC 8878 3.1.1), blocks decoded by fzstd. */
function zstdEngine(emit: Sink, limit: number): Engine {
  let part: "header" | "block header" | "block" | "checksum" | "done" = "header";
  let buf = EMPTY;
  let [need, size, maxBlock] = [0, 0, 0];
  let [last, checksum] = [false, false];
  let contentSize: number | undefined;
  const zstd = new Decompress((data) => {
    size += data.length;
    if (data.length > maxBlock) {
      throw corrupt("zstd", `a block decompresses to more than its maximum, ${maxBlock} bytes`);
    }
    if (size > (contentSize ?? size)) {
      throw corrupt("zstd", `it decompresses to more than the ${contentSize} bytes it says`);
    }
    emit(data);
  });
  const readHeader = (h: Uint8Array) => {
    const header = parseZstdFrameHeader(h) as ZstdFrameHeader;
    if (header.dictionaryId) {
      throw new FormatError("zstd frame needs a dictionary, which edgeboot does not support");
    }
    contentSize = header.contentSize;
    if (contentSize !== undefined && contentSize > limit) {
      const says = `zstd frame header says it decompresses to ${contentSize} bytes`;
      throw new FormatError(`${says}, more than ${limit} (the limit)`);
    }
    const window = header.windowSize;
    maxBlock = Math.min(window, ZSTD_MAX_BLOCK);
    [checksum, part] = [header.checksum, "block header"];
    // fzstd gets an equivalent header. Its window, which it allocates whole, is cut to what the
    // limit lets a match reach, and holds at least one whole block so that none is cut short.
    const target = Math.max(Math.min(window, limit), ZSTD_MAX_BLOCK);
    let descriptor = 0;
    while (descriptor < 255 && zstdWindowSize(descriptor) < target) descriptor++;
    zstd.push(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, checksum ? 4 : 0, descriptor));
  };
  const readBlockHeader = (h: Uint8Array) => {
    const block = parseZstdBlockHeader(h);
    if (block.type === ZSTD_BLOCK.reserved)
      throw corrupt("zstd", "a block has the reserved type 3");
    if (block.size > maxBlock) {
      throw corrupt(
        "zstd",
        `a block of ${block.size} bytes is over its maximum, ${maxBlock} bytes`,
      );
    }
    zstd.push(h);
    [last, need, part] = [block.last, block.type === ZSTD_BLOCK.rle ? 1 : block.size, "block"];
  };
  const next = () => {
    if (part === "block" && !last) part = "block header";
    else if (part === "block" && checksum) [part, need] = ["checksum", 4];
    else if (part === "block" || part === "checksum") {
      zstd.push(EMPTY, true);
      part = "done";
      if (contentSize !== undefined && size !== contentSize) {
        throw corrupt("zstd", `it decompresses to ${size} bytes, its header says ${contentSize}`);
      }
    }
  };
  return (input, final) => {
    let used = 0;
    while (used < input.length && part !== "done") {
      if (part === "block" || part === "checksum") {
        const take = input.subarray(used, used + need);
        zstd.push(take);
        [used, need] = [used + take.length, need - take.length];
      } else {
        const known = concatBytes([buf, input.subarray(used, used + 5)]);
        const want = part === "header" ? (zstdFrameHeaderLength(known) ?? 5) : 3;
        const take = input.subarray(used, used + want - buf.length);
        [buf, used] = [concatBytes([buf, take]), used + take.length];
        if (buf.length < want) continue;
        (part === "header" ? readHeader : readBlockHeader)(buf);
        buf = EMPTY;
      }
      if (need === 0) next();
    }
    if (final && part !== "done") {
      throw new FormatError(`zstd frame is truncated: it ends inside its ${part}`);
    }
    return input.subarray(used);
  };
}

function readLE(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (b[at + i] ?? 0);
  return v;
}

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 255] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
