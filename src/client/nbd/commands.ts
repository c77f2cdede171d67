import { errorText } from "../../lib/errors.js";
import type { NbdExport } from "./exports.js";
import {
  Cmd,
  CmdFlag,
  commandName,
  Errno,
  encodeErrorChunk,
  encodeNoneChunk,
  encodeOffsetDataStart,
  encodeSimpleReplyHeader,
  type RequestHeader,
} from "./protocol.js";

/** The answer to one request, before encoding. */
export interface Reply {
  readonly error: number;
  /** For humans, sent with errors in structured replies. */
  readonly message?: string;
  /** READ data (only with error 0). */
  readonly data?: Uint8Array;
}

/** What executing a request needs to know about its connection. */
export interface CommandContext {
  readonly exp: NbdExport;
  readonly maxRequestBytes: number;
  readonly structured: boolean;
  log(message: string): void;
}

const OK: Reply = { error: Errno.OK };

function fail(error: number, message: string): Reply {
  return { error, message };
}

/** Bytes a request will hold in memory until its reply is flushed (its READ data). */
export function requestCost(request: RequestHeader, maxRequestBytes: number): number {
  return request.type === Cmd.READ && request.length <= maxRequestBytes ? request.length : 0;
}

function badFlags(request: RequestHeader, allowed: number): Reply | undefined {
  const unknown = request.flags & ~allowed;
  if (unknown === 0) return undefined;
  return fail(
    Errno.EINVAL,
    `${commandName(request.type)}: unsupported flags 0x${unknown.toString(16)}`,
  );
}

function tooLong(request: RequestHeader, maxRequestBytes: number): Reply | undefined {
  if (request.length <= maxRequestBytes) return undefined;
  return fail(Errno.EOVERFLOW, `${request.length} bytes: at most ${maxRequestBytes} per request`);
}

function outOfRange(exp: NbdExport, request: RequestHeader): Reply | undefined {
  if (request.offset + BigInt(request.length) <= BigInt(exp.size)) return undefined;
  return fail(
    Errno.EINVAL,
    `${request.length} bytes at offset ${request.offset} run past the end of "${exp.name}" (${exp.size} bytes)`,
  );
}

/** Executes one request against the export (never rejects: failures become error replies). */
export async function execute(context: CommandContext, request: RequestHeader): Promise<Reply> {
  try {
    return await dispatch(context, request);
  } catch (error) {
    context.log(`unexpected error in ${commandName(request.type)}: ${errorText(error)}`);
    return fail(Errno.EIO, "internal server error");
  }
}

function dispatch(context: CommandContext, request: RequestHeader): Reply | Promise<Reply> {
  switch (request.type) {
    case Cmd.READ:
      return read(context, request);
    case Cmd.CACHE:
      return cache(context, request);
    case Cmd.FLUSH:
      return badFlags(request, CmdFlag.FUA) ?? OK;
    case Cmd.WRITE:
    case Cmd.TRIM:
    case Cmd.WRITE_ZEROES:
    case Cmd.RESIZE:
      return fail(Errno.EPERM, `${commandName(request.type)}: the export is read-only`);
    case Cmd.BLOCK_STATUS:
      return fail(Errno.EINVAL, "NBD_CMD_BLOCK_STATUS: no metadata context was negotiated");
    default:
      return fail(Errno.EINVAL, `${commandName(request.type)} is not supported`);
  }
}

async function read(context: CommandContext, request: RequestHeader): Promise<Reply> {
  const { exp, maxRequestBytes } = context;
  const { length } = request;
  const allowed = CmdFlag.FUA | (context.structured ? CmdFlag.DF : 0);
  const refused =
    badFlags(request, allowed) ?? tooLong(request, maxRequestBytes) ?? outOfRange(exp, request);
  if (refused !== undefined) return refused;
  if (length === 0) return OK;
  const offset = Number(request.offset);
  let data: Uint8Array;
  try {
    data = await exp.read(offset, length);
  } catch (error) {
    context.log(
      `read of export "${exp.name}" at offset ${offset} (${length} bytes) failed: ${errorText(error)}`,
    );
    return fail(Errno.EIO, `I/O error reading "${exp.name}" at offset ${offset}`);
  }
  if (!(data instanceof Uint8Array) || data.byteLength !== length) {
    const got = (data as Uint8Array | undefined)?.byteLength;
    context.log(
      `read of export "${exp.name}" at offset ${offset} returned ${got} of ${length} bytes`,
    );
    return fail(Errno.EIO, `I/O error reading "${exp.name}" at offset ${offset}`);
  }
  return { error: Errno.OK, data };
}

async function cache(context: CommandContext, request: RequestHeader): Promise<Reply> {
  const { exp } = context;
  const refused = badFlags(request, CmdFlag.FUA) ?? outOfRange(exp, request);
  if (refused !== undefined) return refused;
  if (exp.prefetch === undefined || request.length === 0) return OK;
  const offset = Number(request.offset);
  try {
    await exp.prefetch(offset, request.length);
    return OK;
  } catch (error) {
    context.log(`prefetch of export "${exp.name}" at offset ${offset} failed: ${errorText(error)}`);
    return fail(Errno.EIO, `I/O error prefetching "${exp.name}" at offset ${offset}`);
  }
}

/**
 * The bytes of a reply, in order, to be written back to back. With structured replies a READ gets
 * one final chunk (data, NONE for zero length, or ERROR with the message); everything else, and
 * every reply without structured replies, is a simple reply.
 */
export function encodeReply(
  request: RequestHeader,
  reply: Reply,
  structured: boolean,
): Uint8Array[] {
  const { cookie } = request;
  if (structured && request.type === Cmd.READ) {
    if (reply.error !== Errno.OK) {
      return [encodeErrorChunk(cookie, reply.error, reply.message ?? "")];
    }
    if (reply.data === undefined || reply.data.byteLength === 0) return [encodeNoneChunk(cookie)];
    return [encodeOffsetDataStart(cookie, request.offset, reply.data.byteLength), reply.data];
  }
  const header = encodeSimpleReplyHeader(reply.error, cookie);
  if (reply.error !== Errno.OK || reply.data === undefined || reply.data.byteLength === 0) {
    return [header];
  }
  return [header, reply.data];
}
