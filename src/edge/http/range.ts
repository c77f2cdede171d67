import { quote, trimOws } from "./field-text.js";

/**
 * The Range header (RFC 9110 §14.2) for representations of a known size, as pure functions.
 *
 * Decisions taken here, each one because a real client depends on it:
 * - An end past the last byte is cut to the last byte (nbdkit's curl plugin asks one byte too far).
 * - Every malformed Range is answered 416 with a reason instead of being ignored: a client sent 200
 *   when it asked for a part reads wrong data without noticing (qemu, nbdkit).
 * - Several satisfiable ranges get the whole body (200), never a single part that is not what was
 *   asked for.
 */

/** What a Range header asks of a representation: all of it, one byte range, or nothing it can have. */
export type RangeDecision =
  | { kind: "full" }
  | {
      kind: "partial";
      start: number;
      /** The last byte sent, inclusive. */
      end: number;
    }
  | { kind: "unsatisfiable"; reason: string };

/** The most byte ranges one Range header may list; more is refused as "too many ranges". */
export const MAX_RANGES = 64;

type RangeSpec =
  | { kind: "from"; first: number; last: number | undefined }
  | { kind: "suffix"; length: number };

type Span = { start: number; end: number };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RANGE_SPEC = /^(\d*)[ \t]*-[ \t]*(\d*)$/;
const EMPTY = "the representation is empty (0 bytes), so no byte range can be satisfied";
const SHAPE = "expected bytes=first-last, bytes=first- or bytes=-suffix, e.g. bytes=0-1023";

/**
 * Decides what the Range header `header` asks of a representation of `size` bytes.
 * Only the `bytes` unit (any case) is understood. The caller answers "partial" with 206 and
 * `Content-Range: contentRange(start, end, size)`, "unsatisfiable" with 416 and
 * `Content-Range: unsatisfiedRange(size)` (the reason goes in the problem detail), "full" with 200.
 */
export function parseRange(header: string, size: number): RangeDecision {
  assertSize(size);
  const specs = parseRangesSpecifier(header);
  if (typeof specs === "string") return unsatisfiable(specs);
  if (size === 0) return unsatisfiable(EMPTY);
  const spans = specs.map((spec) => resolve(spec, size));
  const satisfiable = spans.filter((s): s is Span => typeof s !== "string");
  const [only] = satisfiable;
  if (only === undefined) return unsatisfiable(noneSatisfiable(spans as string[], size));
  if (satisfiable.length > 1) return { kind: "full" };
  return { kind: "partial", start: only.start, end: only.end };
}

/** The Content-Range of a 206: `bytes start-end/size`. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** The Content-Range of a 416: "bytes ", an asterisk where the range would be, "/" and `size`. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

function unsatisfiable(reason: string): RangeDecision {
  return { kind: "unsatisfiable", reason };
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`representation size must be a non-negative safe integer, not ${size}`);
  }
}

/** The range specs of `unit=spec, spec, ...`, or why the header is malformed. */
function parseRangesSpecifier(header: string): RangeSpec[] | string {
  const equals = header.indexOf("=");
  if (equals < 0) return `Range ${quote(header)} has no "=": ${SHAPE}`;
  const unit = trimOws(header.slice(0, equals));
  if (!TOKEN.test(unit)) return `Range ${quote(header)} does not start with a unit: ${SHAPE}`;
  if (unit.toLowerCase() !== "bytes") {
    return `range unit ${quote(unit)} is not supported: only bytes is, e.g. bytes=0-1023`;
  }
  const parts = listElements(header.slice(equals + 1));
  if (parts.length === 0) return `Range lists no byte range after "${unit}=": ${SHAPE}`;
  if (parts.length > MAX_RANGES) {
    return `too many ranges: ${parts.length} listed, at most ${MAX_RANGES} are accepted`;
  }
  const specs: RangeSpec[] = [];
  for (const part of parts) {
    const spec = parseRangeSpec(part);
    if (typeof spec === "string") return spec;
    specs.push(spec);
  }
  return specs;
}

/** The non-empty elements of a comma-separated list, without the OWS around them (RFC 9110 §5.6.1). */
function listElements(value: string): string[] {
  return value
    .split(",")
    .map(trimOws)
    .filter((part) => part !== "");
}

/** One `first-last`, `first-` or `-suffix`, or why it is none of them. */
function parseRangeSpec(part: string): RangeSpec | string {
  const match = RANGE_SPEC.exec(part);
  if (!match) return malformedSpec(part);
  const [, firstDigits = "", lastDigits = ""] = match;
  if (firstDigits === "" && lastDigits === "") {
    return `range "-" names neither a first byte nor a suffix length: ${SHAPE}`;
  }
  const first = firstDigits === "" ? undefined : position(firstDigits);
  const last = lastDigits === "" ? undefined : position(lastDigits);
  if (typeof first === "string") return first;
  if (typeof last === "string") return last;
  if (first === undefined) return { kind: "suffix", length: last as number };
  if (last !== undefined && last < first) {
    return `range ${quote(part)} ends before it starts: the last byte must not be below the first`;
  }
  return { kind: "from", first, last };
}

/** Why `part` is not a range spec, with the most likely mistake named. */
function malformedSpec(part: string): string {
  const dashes = part.split("-").length - 1;
  const hint = part.includes("+")
    ? "byte positions take no sign"
    : dashes === 0
      ? 'a range needs a "-"'
      : dashes > 1
        ? 'a range has exactly one "-" and byte positions are never negative'
        : "byte positions are decimal digits";
  return `range ${quote(part)} is malformed (${hint}): ${SHAPE}`;
}

/** A byte position or length in decimal digits, or why it is too large to be exact. */
function position(digits: string): number | string {
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) {
    return `byte position ${quote(digits)} is too large: the most is ${Number.MAX_SAFE_INTEGER}`;
  }
  return value;
}

/** The bytes `spec` selects from `size` bytes, or why it selects none. */
function resolve(spec: RangeSpec, size: number): Span | string {
  return spec.kind === "suffix" ? resolveSuffix(spec.length, size) : resolveFrom(spec, size);
}

function resolveFrom(
  spec: { first: number; last: number | undefined },
  size: number,
): Span | string {
  const lastByte = size - 1;
  if (spec.first > lastByte) {
    return `range starts at byte ${spec.first}, past the last byte (${lastByte}) of ${size} bytes`;
  }
  return { start: spec.first, end: Math.min(spec.last ?? lastByte, lastByte) };
}

function resolveSuffix(length: number, size: number): Span | string {
  if (length === 0) return 'range "-0" asks for the last 0 bytes, which selects no byte at all';
  return { start: Math.max(0, size - length), end: size - 1 };
}

/** One reason for a header none of whose ranges can be satisfied. */
function noneSatisfiable(reasons: string[], size: number): string {
  if (reasons.length === 1) return reasons[0] as string;
  return `none of the ${reasons.length} ranges selects any of the ${size} bytes`;
}
