import { FormatSyntaxError } from "./errors.js";

/** Parses strict UTF-8 JSON bytes; throws a FormatSyntaxError naming `what` when they are not. */
export function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new FormatSyntaxError(`${what} is not valid UTF-8 JSON`);
  }
}
