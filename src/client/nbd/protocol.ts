/**
 * NBD wire format (fixed newstyle handshake, simple and structured replies): constants and small pure encoders and
 * decoders. Runtime-neutral: only Uint8Array, DataView, TextEncoder and TextDecoder.
 * Reference: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 */

import { concatBytes } from "../../lib/bytes.js";

/** "NBDMAGIC", first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": the newstyle magic, sent by the server and before every client option. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Magic of every fixed-newstyle option reply. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
/** Magic of every transmission request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk. */
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Bytes of the server's opening: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
export const HANDSHAKE_BYTES = 18;
/** Bytes of a client option header: IHAVEOPT, option, data length. */
export const OPTION_HEADER_BYTES = 16;
/** Bytes of an option reply header: magic, option, reply type, data length. */
export const OPTION_REPLY_HEADER_BYTES = 20;
/** Bytes of a transmission request header. */
export const REQUEST_HEADER_BYTES = 28;
/** Bytes of a simple reply header. */
export const SIMPLE_REPLY_HEADER_BYTES = 16;
/** Bytes of a structured reply chunk header. */
export const STRUCTURED_REPLY_HEADER_BYTES = 20;
/** Longest string (export name, description, message) the protocol allows. */
export const MAX_STRING_BYTES = 4096;

/** Handshake flags (server → client, 16 bits). */
export const HandshakeFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

/** Client flags (client → server, 32 bits). */
export const ClientFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

/** Transmission flags (per export, 16 bits). */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Option numbers. */
export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

const REP_ERR = 0x80000000;

/** Option reply types; errors have bit 31 set. */
export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: REP_ERR + 1,
  ERR_POLICY: REP_ERR + 2,
  ERR_INVALID: REP_ERR + 3,
  ERR_PLATFORM: REP_ERR + 4,
  ERR_TLS_REQD: REP_ERR + 5,
  ERR_UNKNOWN: REP_ERR + 6,
  ERR_SHUTDOWN: REP_ERR + 7,
  ERR_BLOCK_SIZE_REQD: REP_ERR + 8,
  ERR_TOO_BIG: REP_ERR + 9,
} as const;

/** Information types of NBD_OPT_INFO / NBD_OPT_GO. */
export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission command types. */
export const Cmd = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
  RESIZE: 8,
} as const;

/** Command flags (16 bits of every request). */
export const CmdFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
  PAYLOAD_LEN: 1 << 5,
} as const;

/** Structured reply chunk flags. */
export const ReplyFlag = { DONE: 1 << 0 } as const;

/** Structured reply chunk types; error types have bit 15 set. */
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;

/** Error values of replies (the protocol's own numbering, not the host's errno). */
export const Errno = {
  OK: 0,
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** The client broke the protocol in a way that ends the connection (a hard disconnect). */
export class ProtocolViolation extends Error {
  override name = "ProtocolViolation";
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A name for logs, e.g. `NBD_OPT_GO` or `option 42`. */
export function optionName(option: number): string {
  const found = Object.entries(Opt).find(([, value]) => value === option);
  return found ? `NBD_OPT_${found[0]}` : `option ${option}`;
}

/** A name for logs, e.g. `NBD_CMD_READ` or `command 42`. */
export function commandName(type: number): string {
  const found = Object.entries(Cmd).find(([, value]) => value === type);
  return found ? `NBD_CMD_${found[0]}` : `command ${type}`;
}

/** UTF-8 bytes of `text`, cut at a character boundary to at most `max` bytes. */
export function encodeString(text: string, max = MAX_STRING_BYTES): Uint8Array {
  const bytes = utf8.encode(text);
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** The protocol string in `bytes`, or undefined unless it is valid UTF-8 without NUL, ≤ 4096 bytes. */
export function decodeString(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength > MAX_STRING_BYTES || bytes.includes(0)) return undefined;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The server's opening: NBDMAGIC, IHAVEOPT, handshake flags. */
export function encodeHandshake(flags: number): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_BYTES);
  const v = view(out);
  v.setBigUint64(0, NBD_MAGIC);
  v.setBigUint64(8, IHAVEOPT);
  v.setUint16(16, flags);
  return out;
}

/** A client option header. */
export interface OptionHeader {
  readonly magic: bigint;
  readonly option: number;
  readonly length: number;
}

/** Decodes the 16-byte option header at the start of `bytes`. */
export function decodeOptionHeader(bytes: Uint8Array): OptionHeader {
  const v = view(bytes);
  return { magic: v.getBigUint64(0), option: v.getUint32(8), length: v.getUint32(12) };
}

/** One option reply: header and `data`. */
export function encodeOptionReply(
  option: number,
  type: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(OPTION_REPLY_HEADER_BYTES + data.byteLength);
  const v = view(out);
  v.setBigUint64(0, NBD_REP_MAGIC);
  v.setUint32(8, option);
  v.setUint32(12, type);
  v.setUint32(16, data.byteLength);
  out.set(data, OPTION_REPLY_HEADER_BYTES);
  return out;
}

/** Data of an NBD_REP_SERVER reply: name length, name, then the description for humans. */
export function encodeServerData(name: string, description?: string): Uint8Array {
  const nameBytes = encodeString(name);
  const length = new Uint8Array(4);
  view(length).setUint32(0, nameBytes.byteLength);
  return concatBytes([length, nameBytes, encodeString(description ?? "")]);
}

/** Data of an NBD_REP_INFO reply carrying NBD_INFO_EXPORT. */
export function encodeInfoExport(size: number, transmissionFlags: number): Uint8Array {
  const out = new Uint8Array(12);
  const v = view(out);
  v.setUint16(0, Info.EXPORT);
  v.setBigUint64(2, BigInt(size));
  v.setUint16(10, transmissionFlags);
  return out;
}

/** Data of an NBD_REP_INFO reply carrying a string (NBD_INFO_NAME, NBD_INFO_DESCRIPTION). */
export function encodeInfoString(info: number, text: string): Uint8Array {
  const out = concatBytes([new Uint8Array(2), encodeString(text)]);
  view(out).setUint16(0, info);
  return out;
}

/** Data of an NBD_REP_INFO reply carrying NBD_INFO_BLOCK_SIZE. */
export function encodeInfoBlockSize(
  minimum: number,
  preferred: number,
  maximum: number,
): Uint8Array {
  const out = new Uint8Array(14);
  const v = view(out);
  v.setUint16(0, Info.BLOCK_SIZE);
  v.setUint32(2, minimum);
  v.setUint32(6, preferred);
  v.setUint32(10, maximum);
  return out;
}

/** What an NBD_OPT_INFO / NBD_OPT_GO asks for, or why its data is malformed. */
export type InfoRequest =
  | { readonly ok: true; readonly name: string; readonly infos: readonly number[] }
  | { readonly ok: false; readonly reason: string };

/** Decodes NBD_OPT_INFO / NBD_OPT_GO data: name length, name, count, that many 16-bit info types. */
export function decodeInfoRequest(data: Uint8Array): InfoRequest {
  if (data.byteLength < 6) return { ok: false, reason: "option data shorter than 6 bytes" };
  const v = view(data);
  const nameLength = v.getUint32(0);
  if (nameLength > data.byteLength - 6) {
    return { ok: false, reason: "export name length runs past the option data" };
  }
  const count = v.getUint16(4 + nameLength);
  if (data.byteLength !== 6 + nameLength + 2 * count) {
    return { ok: false, reason: "number of information requests does not match the data length" };
  }
  const name = decodeString(data.subarray(4, 4 + nameLength));
  if (name === undefined) return { ok: false, reason: "export name is not a valid NBD string" };
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(v.getUint16(6 + nameLength + 2 * i));
  return { ok: true, name, infos };
}

/** The answer to NBD_OPT_EXPORT_NAME: size, transmission flags, and 124 zeroes unless NO_ZEROES. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Uint8Array {
  const out = new Uint8Array(noZeroes ? 10 : 134);
  const v = view(out);
  v.setBigUint64(0, BigInt(size));
  v.setUint16(8, flags);
  return out;
}

/** A transmission request header. */
export interface RequestHeader {
  readonly magic: number;
  readonly flags: number;
  readonly type: number;
  /** Opaque 64-bit cookie (the "handle"), echoed in the reply. */
  readonly cookie: bigint;
  readonly offset: bigint;
  readonly length: number;
}

/** Decodes the 28-byte request header at the start of `bytes`. */
export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  const v = view(bytes);
  return {
    magic: v.getUint32(0),
    flags: v.getUint16(4),
    type: v.getUint16(6),
    cookie: v.getBigUint64(8),
    offset: v.getBigUint64(16),
    length: v.getUint32(24),
  };
}

/** Encodes a request header (for clients and tests). */
export function encodeRequestHeader(request: Omit<RequestHeader, "magic">): Uint8Array {
  const out = new Uint8Array(REQUEST_HEADER_BYTES);
  const v = view(out);
  v.setUint32(0, NBD_REQUEST_MAGIC);
  v.setUint16(4, request.flags);
  v.setUint16(6, request.type);
  v.setBigUint64(8, request.cookie);
  v.setBigUint64(16, request.offset);
  v.setUint32(24, request.length);
  return out;
}

/** The 16-byte header of a simple reply; read data, if any, follows it. */
export function encodeSimpleReplyHeader(error: number, cookie: bigint): Uint8Array {
  const out = new Uint8Array(SIMPLE_REPLY_HEADER_BYTES);
  const v = view(out);
  v.setUint32(0, NBD_SIMPLE_REPLY_MAGIC);
  v.setUint32(4, error);
  v.setBigUint64(8, cookie);
  return out;
}

/** A structured reply chunk header; `length` bytes of payload follow it. */
export function encodeStructuredReplyHeader(
  flags: number,
  type: number,
  cookie: bigint,
  length: number,
): Uint8Array {
  const out = new Uint8Array(STRUCTURED_REPLY_HEADER_BYTES);
  const v = view(out);
  v.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
  v.setUint16(4, flags);
  v.setUint16(6, type);
  v.setBigUint64(8, cookie);
  v.setUint32(16, length);
  return out;
}

/** The final NBD_REPLY_TYPE_OFFSET_DATA chunk up to its data: header and offset; `length` data bytes follow. */
export function encodeOffsetDataStart(cookie: bigint, offset: bigint, length: number): Uint8Array {
  const out = new Uint8Array(STRUCTURED_REPLY_HEADER_BYTES + 8);
  out.set(encodeStructuredReplyHeader(ReplyFlag.DONE, ReplyType.OFFSET_DATA, cookie, 8 + length));
  view(out).setBigUint64(STRUCTURED_REPLY_HEADER_BYTES, offset);
  return out;
}

/** The final NBD_REPLY_TYPE_NONE chunk: success with no data. */
export function encodeNoneChunk(cookie: bigint): Uint8Array {
  return encodeStructuredReplyHeader(ReplyFlag.DONE, ReplyType.NONE, cookie, 0);
}

/** The final NBD_REPLY_TYPE_ERROR chunk: error value and a message for humans. */
export function encodeErrorChunk(cookie: bigint, error: number, message: string): Uint8Array {
  const text = encodeString(message);
  const header = encodeStructuredReplyHeader(
    ReplyFlag.DONE,
    ReplyType.ERROR,
    cookie,
    6 + text.byteLength,
  );
  const out = new Uint8Array(header.byteLength + 6 + text.byteLength);
  out.set(header);
  const v = view(out);
  v.setUint32(STRUCTURED_REPLY_HEADER_BYTES, error);
  v.setUint16(STRUCTURED_REPLY_HEADER_BYTES + 4, text.byteLength);
  out.set(text, STRUCTURED_REPLY_HEADER_BYTES + 6);
  return out;
}
