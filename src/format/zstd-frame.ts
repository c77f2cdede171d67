import { FormatError } from "./errors.js";

/** The first four bytes of every zstd frame, read little-endian. */
const MAGIC = 0xfd2fb528;

/** The largest a zstd block may decompress to (RFC 8878 3.1.1.2.3). */
export const ZSTD_MAX_BLOCK = 128 * 1024;

/** What the header of a zstd frame says (RFC 8878 3.1.1.1). */
export interface ZstdFrameHeader {
  /** Bytes of the header, the magic number included: where the first block header starts. */
  length: number;
  /** Whether a content checksum (4 bytes) follows the last block. */
  checksum: boolean;
  /** Dictionary_ID; 0 when the frame names none. */
  dictionaryId: number;
  /** Frame_Content_Size, when the frame declares it. */
  contentSize?: number;
  /** Window_Size: the content size for a single-segment frame (0 if it declares none). */
  windowSize: number;
}

/** One zstd block header (RFC 8878 3.1.1.2.1). */
export interface ZstdBlockHeader {
  last: boolean;
  /** 0 raw, 1 RLE, 2 compressed, 3 reserved. */
  type: number;
  /** Block_Size: for an RLE block, the bytes it repeats to. */
  size: number;
}

/** The zstd block types. */
export const ZSTD_BLOCK = { raw: 0, rle: 1, compressed: 2, reserved: 3 } as const;

/**
 * The length of the zstd frame header `bytes` starts with, known from its first 5 bytes;
 * undefined while fewer are at hand.
 */
export function zstdFrameHeaderLength(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < 5) return undefined;
  const descriptor = bytes[4] as number;
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] as number;
  const sizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6] as number;
  return 6 - singleSegment + dictionaryBytes + sizeBytes;
}

/**
 * Reads the zstd frame header `bytes` starts with: undefined while the bytes at hand end inside
 * it; a FormatError for a bad magic number, the reserved bit set or a content size past 2^53.
 * The one parser of zstd frame headers: {@link inspectZstdFrame} and the streaming decoder
 * (codec.ts) both read headers here.
 */
export function parseZstdFrameHeader(bytes: Uint8Array): ZstdFrameHeader | undefined {
  if (bytes.byteLength >= 4 && readLittleEndian(bytes, 0, 4) !== MAGIC) {
    throw new FormatError("not a zstd frame (bad magic)");
  }
  const length = zstdFrameHeaderLength(bytes);
  if (length === undefined || bytes.byteLength < length) return undefined;
  const descriptor = bytes[4] as number;
  if (descriptor & 0x08)
    throw new FormatError("zstd frame is corrupt: a reserved header bit is set");
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] as number;
  const sizeBytes = length - (singleSegment ? 5 : 6) - dictionaryBytes;
  const dictionaryAt = singleSegment ? 5 : 6;
  const contentSize =
    sizeBytes === 0 ? undefined : readContentSize(bytes, dictionaryAt + dictionaryBytes, sizeBytes);
  return {
    length,
    checksum: (descriptor & 0x04) !== 0,
    dictionaryId: readLittleEndian(bytes, dictionaryAt, dictionaryBytes),
    contentSize,
    windowSize: singleSegment ? (contentSize ?? 0) : zstdWindowSize(bytes[5] as number),
  };
}

/** The block header of 3 bytes at `at` in `bytes` (which must hold them). */
export function parseZstdBlockHeader(bytes: Uint8Array, at = 0): ZstdBlockHeader {
  const header = readLittleEndian(bytes, at, 3);
  return { last: (header & 1) === 1, type: (header >> 1) & 3, size: header >>> 3 };
}

/** The window size a Window_Descriptor byte stands for. */
export function zstdWindowSize(descriptor: number): number {
  const base = 2 ** (10 + (descriptor >> 3));
  return base + (base / 8) * (descriptor & 7);
}

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

/**
 * Walks one zstd frame (RFC 8878) by its headers: the frame header, every block header, the
 * checksum. Throws a FormatError unless `frame` is exactly one well-formed frame, with no byte
 * before or after it (a second frame included). Costs a few reads per 128 KiB block, so it tells a
 * decompression bomb from an honest frame before any decoder runs.
 */
export function inspectZstdFrame(frame: Uint8Array): ZstdFrameShape {
  const need = (at: number, bytes: number, what: string) => {
    if (at + bytes > frame.byteLength) throw new FormatError(`zstd frame cut short in ${what}`);
  };
  const header = parseZstdFrameHeader(frame);
  if (!header) throw new FormatError("zstd frame cut short in its header");
  const { contentSize } = header;
  const blockMaximum = Math.min(header.windowSize, ZSTD_MAX_BLOCK);
  let at = header.length;
  let outputBound = 0;
  for (let last = false; !last; ) {
    need(at, 3, "a block header");
    const block = parseZstdBlockHeader(frame, at);
    at += 3;
    last = block.last;
    if (block.type === ZSTD_BLOCK.raw) {
      need(at, block.size, "a raw block");
      at += block.size;
      outputBound += block.size;
    } else if (block.type === ZSTD_BLOCK.rle) {
      need(at, 1, "an RLE block");
      at += 1;
      outputBound += block.size;
    } else if (block.type === ZSTD_BLOCK.compressed) {
      if (block.size > blockMaximum)
        throw new FormatError("zstd block larger than the frame allows");
      need(at, block.size, "a compressed block");
      at += block.size;
      outputBound += blockMaximum;
    } else {
      throw new FormatError("zstd frame has a block of the reserved type");
    }
  }
  if (header.checksum) {
    need(at, 4, "its checksum");
    at += 4;
  }
  if (at !== frame.byteLength) throw new FormatError("bytes after the zstd frame");
  if (contentSize !== undefined && contentSize > outputBound) {
    throw new FormatError("zstd frame declares more content than its blocks can hold");
  }
  return { contentSize, outputBound };
}

function readContentSize(bytes: Uint8Array, at: number, length: number): number {
  const size = readLittleEndian(bytes, at, length) + (length === 2 ? 256 : 0);
  if (!Number.isSafeInteger(size)) throw new FormatError("zstd frame content size too large");
  return size;
}

/** The unsigned little-endian number of `length` bytes at `at` (exact up to 2^53). */
function readLittleEndian(bytes: Uint8Array, at: number, length: number): number {
  let value = 0;
  for (let i = length - 1; i >= 0; i--) value = value * 256 + (bytes[at + i] as number);
  return value;
}
