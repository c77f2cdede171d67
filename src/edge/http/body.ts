import { FormatError, FormatSyntaxError } from "../../format/errors.js";
import { concatBytes } from "../../lib/bytes.js";
import { badRequest, tooLarge, unprocessable } from "./problem.js";

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before reading; a body that grows past it is cancelled as soon as it does.
 */
export async function readBody(request: Request, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) throw tooLarge(limit, what);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit, what);
    }
    parts.push(value);
  }
  return concatBytes(parts);
}

/**
 * A request body in an edgeboot format, decoded by `decode`: one that does not parse at all
 * (FormatSyntaxError) is a 400 problem, one that parses but breaks the format (FormatError) a 422
 * naming the field at fault.
 */
export function decodeBody<T>(bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
  try {
    return decode(bytes);
  } catch (error) {
    if (error instanceof FormatSyntaxError) throw badRequest(error.message);
    if (error instanceof FormatError) throw unprocessable(error.message, { field: error.field });
    throw error;
  }
}
