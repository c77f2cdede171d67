import { createHash } from "node:crypto";
import { FormatError } from "../format/errors.js";
import { MAX_CHUNK_BYTES } from "../format/limits.js";
import type { Chunking } from "../format/manifest.js";
import { sizeInBytes } from "../lib/units.js";
import { CasyncCursor } from "./casync-chunker.js";

/** The chunking used when none is asked for: fixed 256 KiB chunks. */
export const DEFAULT_CHUNKING: Chunking = Object.freeze({ kind: "fixed", size: 262144 });

/** Smallest fixed chunk size or CDC minimum accepted. */
const MIN_CHUNK_BYTES = 1024;

const FORMS =
  "expected fixed:SIZE, cdc:MIN/AVG/MAX or casync:MIN/AVG/MAX, e.g. fixed:256K or cdc:16K/64K/256K";
const SIZE_RANGE = `from 1K (${MIN_CHUNK_BYTES} bytes) to ${MAX_CHUNK_BYTES / 1048576}M (${MAX_CHUNK_BYTES} bytes)`;
const FIXED_SPEC = /^fixed:(\d+)([km]?)$/i;
const CDC_SPEC = /^(cdc|casync):(\d+)([km]?)\/(\d+)([km]?)\/(\d+)([km]?)$/i;

/**
 * The gear table of the CDC rolling hash: entry `i` is the first 4 bytes, read as a big-endian
 * signed 32-bit integer, of the SHA-256 of the ASCII text `edgeboot gear <i>` (decimal `i`, e.g.
 * `edgeboot gear 0`). Part of the format: changing it moves every CDC boundary and breaks dedup
 * against stores written before. This text was picked so that runs of zero bytes never match a
 * mask (the hash of a zero run, `G[0] * (2^n - 1)`, keeps one of its top 8 bits set), so zero
 * regions are cut into chunks of exactly MAX.
 */
const GEAR = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  GEAR[i] = createHash("sha256").update(`edgeboot gear ${i}`).digest().readInt32BE(0);
}

/**
 * Parses a chunking spec as given on the command line: `fixed:SIZE` or `cdc:MIN/AVG/MAX`, each size
 * in bytes or with a K or M suffix (1024-based, any case), e.g. `fixed:256K`, `fixed:262144`,
 * `cdc:16K/64K/256K`. Sizes must be from 1K to MAX_CHUNK_BYTES, with MIN <= AVG <= MAX and AVG a
 * power of two. Throws a FormatError saying what is wrong and which forms are accepted.
 */
export function parseChunkingSpec(spec: string): Chunking {
  const fixed = FIXED_SPEC.exec(spec);
  const cdc = fixed ? null : CDC_SPEC.exec(spec);
  let chunking: Chunking;
  if (fixed) {
    chunking = { kind: "fixed", size: sizeOf(fixed, 1) };
  } else if (cdc) {
    const kind = (cdc[1] as string).toLowerCase() as "cdc" | "casync";
    chunking = { kind, min: sizeOf(cdc, 2), avg: sizeOf(cdc, 4), max: sizeOf(cdc, 6) };
  } else {
    throw new FormatError(`bad chunking "${spec}": ${FORMS}`, "chunking");
  }
  const problem = chunkingProblem(chunking);
  if (problem) throw new FormatError(`bad chunking "${spec}": ${problem}`, "chunking");
  return chunking;
}

/** How {@link chunkStream} may treat its source's pieces. */
export interface ChunkStreamOptions {
  /**
   * The source never touches a piece again once it has yielded it, and each piece is the only
   * view of its ArrayBuffer (as readPieces gives them): with fixed chunking, a piece that is
   * exactly one chunk at a chunk's start is then yielded as that chunk, not copied.
   */
  piecesHandedOver?: boolean;
}

/**
 * Cuts an image, read as pieces of any sizes, into its chunks, in image order. Each yielded chunk
 * is a new Buffer of exactly the chunk's length that is the only view of its own ArrayBuffer
 * (byteOffset 0, never from Node's shared pool), so it can be transferred to a worker thread; the
 * generator never touches it again. Input pieces are copied, so the source may reuse its buffers,
 * unless `options.piecesHandedOver` says it gives them up. Holds at most one chunk buffer (MAX or
 * SIZE bytes) besides the piece being read. An empty image yields nothing. Throws a FormatError
 * (before reading) if `chunking` is out of bounds.
 *
 * Fixed: every chunk is exactly `size` bytes but the last, which may be shorter. CDC: FastCDC
 * (Xia et al., 2016) with normalized chunking level 2, see {@link chunkBuffer}; boundaries depend
 * only on the bytes, not on how the source splits them.
 */
export function chunkStream(
  source: AsyncIterable<Uint8Array>,
  chunking: Chunking,
  options: ChunkStreamOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  checkChunking(chunking);
  return chunking.kind === "fixed"
    ? fixedChunks(source, chunking.size, options.piecesHandedOver === true)
    : cutChunks(source, cutterFor(chunking));
}

/**
 * The chunk lengths of a whole in-memory image: the same cuts as {@link chunkStream}.
 *
 * CDC cuts: a gear hash `h = (h << 1) + GEAR[byte]` (32-bit) restarts at 0 at each chunk's byte
 * MIN (bytes before it are skipped). A chunk ends after the first byte whose hash has its top
 * `log2(AVG) + 2` bits all zero while the chunk is at most AVG long, or top `log2(AVG) - 2` bits
 * all zero beyond that, or after MAX bytes; so chunks are from MIN + 1 to MAX bytes long, except a
 * shorter last one. On random data the mean length is about 1.15 x AVG when MIN = AVG / 4.
 */
export function chunkBuffer(data: Uint8Array, chunking: Chunking): number[] {
  checkChunking(chunking);
  const lengths: number[] = [];
  if (chunking.kind === "fixed") {
    for (let at = 0; at < data.length; at += chunking.size) {
      lengths.push(Math.min(chunking.size, data.length - at));
    }
    return lengths;
  }
  const cutter = cutterFor(chunking);
  for (let at = 0; at < data.length; ) {
    const end = cutter.findCut(data, at, data.length);
    const stop = end < 0 ? data.length : end;
    lengths.push(stop - at);
    at = stop;
  }
  return lengths;
}

async function* fixedChunks(
  source: AsyncIterable<Uint8Array>,
  size: number,
  piecesHandedOver: boolean,
): AsyncGenerator<Buffer, void, undefined> {
  let acc: Buffer | undefined;
  let len = 0;
  for await (const piece of source) {
    if (piecesHandedOver && len === 0 && piece.length === size && ownsItsMemory(piece)) {
      yield Buffer.from(piece.buffer, 0, size);
      continue;
    }
    for (let at = 0; at < piece.length; ) {
      acc ??= Buffer.allocUnsafeSlow(size);
      const n = Math.min(size - len, piece.length - at);
      acc.set(piece.subarray(at, at + n), len);
      len += n;
      at += n;
      if (len === size) {
        yield acc;
        acc = undefined;
        len = 0;
      }
    }
  }
  if (acc && len > 0) yield exactCopy(acc, len);
}

/** A content-defined chunker: finds where the current chunk ends, carrying its state across pieces. */
interface Cutter {
  readonly max: number;
  /** The index just past the chunk's last byte if it ends in `data[from, to)`, else -1. */
  findCut(data: Uint8Array, from: number, to: number): number;
}

function cutterFor(chunking: Extract<Chunking, { kind: "cdc" | "casync" }>): Cutter {
  if (chunking.kind === "casync") return new CasyncCursor(chunking);
  const cursor = new CdcCursor(chunking);
  return { max: chunking.max, findCut: (data, from, to) => findCut(data, from, to, cursor) };
}

async function* cutChunks(
  source: AsyncIterable<Uint8Array>,
  cutter: Cutter,
): AsyncGenerator<Buffer, void, undefined> {
  let acc = Buffer.allocUnsafeSlow(cutter.max);
  let len = 0;
  for await (const piece of source) {
    for (let at = 0; at < piece.length; ) {
      const end = cutter.findCut(piece, at, piece.length);
      const stop = end < 0 ? piece.length : end;
      acc.set(piece.subarray(at, stop), len);
      len += stop - at;
      at = stop;
      if (end >= 0) {
        if (len === acc.length) {
          yield acc;
          acc = Buffer.allocUnsafeSlow(cutter.max);
        } else {
          yield exactCopy(acc, len);
        }
        len = 0;
      }
    }
  }
  if (len > 0) yield exactCopy(acc, len);
}

function ownsItsMemory(piece: Uint8Array): boolean {
  return (
    piece.byteOffset === 0 &&
    piece.byteLength === piece.buffer.byteLength &&
    piece.buffer instanceof ArrayBuffer
  );
}

function exactCopy(source: Buffer, length: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(length);
  copy.set(source.subarray(0, length));
  return copy;
}

/** The state of a CDC scan within the current chunk: its length so far and the rolling hash. */
class CdcCursor {
  readonly min: number;
  readonly avg: number;
  readonly max: number;
  readonly maskS: number;
  readonly maskL: number;
  len = 0;
  hash = 0;

  constructor(chunking: { min: number; avg: number; max: number }) {
    this.min = chunking.min;
    this.avg = chunking.avg;
    this.max = chunking.max;
    const bits = Math.log2(chunking.avg);
    this.maskS = topBits(bits + 2);
    this.maskL = topBits(bits - 2);
  }
}

function topBits(count: number): number {
  return (-1 << (32 - count)) | 0;
}

/**
 * Scans `data[from, to)` as the continuation of the cursor's chunk. Returns the index just past
 * the chunk's last byte if it ends in this range, resetting the cursor for the next chunk; or -1
 * if it does not, with the cursor advanced to `to`. Unrolled by four: that is faster, and makes the
 * function too big for V8 to inline into the generator, where the loop runs at half speed.
 */
function findCut(data: Uint8Array, from: number, to: number, cursor: CdcCursor): number {
  const base = cursor.len - from;
  const maxEnd = cursor.max - base;
  const limit = Math.min(maxEnd, to);
  const stopS = Math.min(cursor.avg - base, limit);
  const gear = GEAR;
  let i = Math.max(cursor.min - base, from);
  let h = cursor.hash;
  let mask = cursor.maskS;
  for (const stopS4 = stopS - 3; i < stopS4; i += 4) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 1);
    h = ((h << 1) + (gear[data[i + 1] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 2);
    h = ((h << 1) + (gear[data[i + 2] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 3);
    h = ((h << 1) + (gear[data[i + 3] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 4);
  }
  for (; i < stopS; i++) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 1);
  }
  mask = cursor.maskL;
  for (const limit4 = limit - 3; i < limit4; i += 4) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 1);
    h = ((h << 1) + (gear[data[i + 1] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 2);
    h = ((h << 1) + (gear[data[i + 2] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 3);
    h = ((h << 1) + (gear[data[i + 3] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 4);
  }
  for (; i < limit; i++) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & mask) === 0) return restart(cursor, i + 1);
  }
  if (maxEnd <= to) return restart(cursor, maxEnd);
  cursor.len = base + to;
  cursor.hash = h;
  return -1;
}

function restart(cursor: CdcCursor, end: number): number {
  cursor.len = 0;
  cursor.hash = 0;
  return end;
}

function checkChunking(chunking: Chunking): void {
  const problem = chunkingProblem(chunking);
  if (problem) {
    throw new FormatError(`bad chunking ${JSON.stringify(chunking)}: ${problem}`, "chunking");
  }
}

function chunkingProblem(chunking: Chunking): string | undefined {
  if (chunking.kind === "fixed") return sizeProblem("SIZE", chunking.size);
  if (chunking.kind !== "cdc" && chunking.kind !== "casync") return FORMS;
  const { min, avg, max } = chunking;
  const problem = sizeProblem("MIN", min) ?? sizeProblem("AVG", avg) ?? sizeProblem("MAX", max);
  if (problem) return problem;
  if (!(min <= avg && avg <= max)) {
    return `${chunking.kind} needs MIN <= AVG <= MAX; got ${showSize(min)}/${showSize(avg)}/${showSize(max)}`;
  }
  if (chunking.kind === "cdc" && (avg & (avg - 1)) !== 0) {
    return `cdc AVG must be a power of two (FastCDC's masks need it), e.g. 16K, 64K or 1M; got ${avg}`;
  }
  return undefined;
}

function sizeProblem(name: string, size: number): string | undefined {
  if (Number.isInteger(size) && size >= MIN_CHUNK_BYTES && size <= MAX_CHUNK_BYTES)
    return undefined;
  return `${name} is ${size} bytes; sizes must be whole numbers of bytes ${SIZE_RANGE}`;
}

function sizeOf(match: RegExpExecArray, group: number): number {
  return sizeInBytes(match[group] as string, match[group + 1]);
}

function showSize(size: number): string {
  if (size % 1048576 === 0) return `${size / 1048576}M`;
  if (size % 1024 === 0) return `${size / 1024}K`;
  return String(size);
}
