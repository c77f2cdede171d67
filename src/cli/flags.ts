/**
 * The parsers of the command line's flag values. Each returns the value or throws a UserError
 * naming the flag, what it got and what it takes.
 */

import type { PinnedRef } from "../client/index.js";
import { type Codec, isCodec } from "../format/codec.js";
import { UserError } from "../lib/errors.js";
import { parseSize } from "../lib/units.js";

/** A size such as `8G`, `500M` or `1048576` (1024-based). */
export function parseSizeFlag(text: string, flag: string): number {
  const size = parseSize(text);
  if (size === undefined) {
    throw new UserError(`${flag} must be a size such as 8G, 500M or 1048576, not "${text}"`);
  }
  return size;
}

/** A positive whole number. */
export function parsePositive(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UserError(`${flag} must be a positive integer, not "${text}"`);
  }
  return value;
}

/** A duration in milliseconds from `24h`, `30m`, `90s`, `2d` or `0` (a bare number is seconds). */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) {
    throw new UserError(`${flag} must be a duration such as 24h, 30m, 90s or 0, not "${text}"`);
  }
  const unit =
    { "": 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as string] ?? 1000;
  return Number(match[1]) * unit;
}

/** A chunk codec: `zstd` or `gzip`. */
export function parseCodec(text: string): Codec {
  if (!isCodec(text)) throw new UserError(`unknown codec "${text}": use zstd or gzip`);
  return text;
}

/** A `--pin` value: `NAME=MANIFEST,PUBLISHED` with an optional `,SIGNATURE`. */
export function parsePin(text: string): PinnedRef {
  const match = /^([^=,\s]+)=([^,\s]+),([^,\s]+)(?:,([^,\s]+))?$/.exec(text);
  if (!match?.[1] || !match[2] || !match[3]) {
    throw new UserError(
      `--pin must be NAME=MANIFEST,PUBLISHED[,SIGNATURE], e.g. debian=<64 hex>,2026-11-26T11:00:00.000Z,<base64>, not "${text}"`,
    );
  }
  const pin: PinnedRef = { name: match[1], manifest: match[2], published: match[3] };
  if (match[4]) pin.sig = match[4];
  return pin;
}

/** A `--listen` address: `HOST:PORT`, `[V6]:PORT`, `:PORT` (every interface) or `PORT` (loopback). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:]*)):(\d+)$|^(\d+)$/i.exec(text);
  const port = Number(match?.[3] ?? match?.[4]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new UserError(`--listen must be HOST:PORT, e.g. 127.0.0.1:10809, not "${text}"`);
  }
  return { host: match[1] ?? (match[2] === "" ? "0.0.0.0" : (match[2] ?? "127.0.0.1")), port };
}
