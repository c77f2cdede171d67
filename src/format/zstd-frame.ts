import { FormatError } from "./errors.js";

/** What the headers of one zstd frame promise, read without decompressing it. */
export interface ZstdFrameShape {
  /** Frame_Content_Size from the frame header, when the frame declares it. */
  contentSize?: number;
  /**
   * Most bytes the frame can decompress to: raw and RLE blocks count their size, compressed blocks
   * the block maximum. A decoder's output can never exceed it.
   */
  outputBound: number;
}

const MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;
const BLOCK_RAW = 0;
const BLOCK_RLE = 1;
const BLOCK_COMPRESSED = 2;

/**
 * Walks one zstd frame (RFC 8878) by its headers: the frame header, every block header, the
 * checksum. Throws a FormatError unless `frame` is exactly one well-formed frame, with no byte
 * before or after it (a second frame included). Costs a few reads per 128 KiB block, so it tells a
 * decompression bomb from an honest frame before any decoder runs.
 */
export function inspectZstdFrame(frame: Uint8Array): ZstdFrameShape {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const need = (at: number, bytes: number, what: string) => {
    if (at + bytes > frame.byteLength) throw new FormatError(`zstd frame cut short in ${what}`);
  };
  need(0, 5, "its header");
  if (view.getUint32(0, true) !== MAGIC) throw new FormatError("not a zstd frame (bad magic)");
  const descriptor = frame[4] as number;
  if (descriptor & 0x08) throw new FormatError("zstd frame header sets its reserved bit");
  const singleSegment = (descriptor & 0x20) !== 0;
  const checksum = (descriptor & 0x04) !== 0;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] as number;
  const sizeFlag = descriptor >> 6;
  const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : ([0, 2, 4, 8][sizeFlag] as number);
  let at = 5;
  let windowSize = 0;
  if (!singleSegment) {
    need(at, 1, "its window descriptor");
    windowSize = windowSizeOf(frame[at] as number);
    at += 1;
  }
  need(at, dictionaryBytes + sizeBytes, "its header");
  at += dictionaryBytes;
  const contentSize = sizeBytes === 0 ? undefined : readContentSize(view, at, sizeBytes);
  at += sizeBytes;
  if (singleSegment) windowSize = contentSize ?? 0;
  const blockMaximum = Math.min(windowSize, MAX_BLOCK);
  let outputBound = 0;
  for (let last = false; !last; ) {
    need(at, 3, "a block header");
    const header =
      (frame[at] as number) | ((frame[at + 1] as number) << 8) | ((frame[at + 2] as number) << 16);
    at += 3;
    last = (header & 1) === 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === BLOCK_RAW) {
      need(at, size, "a raw block");
      at += size;
      outputBound += size;
    } else if (type === BLOCK_RLE) {
      need(at, 1, "an RLE block");
      at += 1;
      outputBound += size;
    } else if (type === BLOCK_COMPRESSED) {
      if (size > blockMaximum) throw new FormatError("zstd block larger than the frame allows");
      need(at, size, "a compressed block");
      at += size;
      outputBound += blockMaximum;
    } else {
      throw new FormatError("zstd frame has a block of the reserved type");
    }
  }
  if (checksum) {
    need(at, 4, "its checksum");
    at += 4;
  }
  if (at !== frame.byteLength) throw new FormatError("bytes after the zstd frame");
  if (contentSize !== undefined && contentSize > outputBound) {
    throw new FormatError("zstd frame declares more content than its blocks can hold");
  }
  return { contentSize, outputBound };
}

function windowSizeOf(descriptor: number): number {
  const base = 2 ** (10 + (descriptor >> 3));
  return base + (base / 8) * (descriptor & 7);
}

function readContentSize(view: DataView, at: number, bytes: number): number {
  if (bytes === 1) return view.getUint8(at);
  if (bytes === 2) return view.getUint16(at, true) + 256;
  if (bytes === 4) return view.getUint32(at, true);
  const size = view.getBigUint64(at, true);
  if (size > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError("zstd frame content size too large");
  return Number(size);
}
