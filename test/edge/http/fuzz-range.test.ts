/**
 * Property-based tests of the Range header parser (src/edge/http/range.ts) against a reference
 * model written here from the rules in the parser's header comment and the README's "HTTP rules":
 * one satisfiable range is partial, its end cut to the last byte; a suffix selects the last N
 * bytes; a start past the end selects nothing; several satisfiable ranges get the full body; every
 * malformed header is unsatisfiable; an empty representation satisfies nothing.
 *
 * The model parses by hand (no regular expressions, BigInt for numbers) so that it shares no code
 * or idea of the implementation's. Whitespace it accepts: SP and HTAB around the unit, around list
 * elements, and on either side of the "-" inside one (what the parser documents in its tests).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  contentRange,
  MAX_RANGES,
  parseRange,
  type RangeDecision,
  unsatisfiedRange,
} from "../../../src/edge/http/range.js";
import { FUZZ_RUNS, fuzzRuns, fuzzTimeout } from "../../fixtures/fuzz.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(2);

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The decision the rules call for; "unsatisfiable" without a reason (the wording is free). */
type Expected =
  | { kind: "full" }
  | { kind: "partial"; start: number; end: number }
  | "unsatisfiable";

type Spec = { first: bigint; last: bigint | undefined } | { suffix: bigint };

const isOws = (ch: string | undefined) => ch === " " || ch === "\t";
const isDigit = (ch: string) => ch >= "0" && ch <= "9";

function trim(text: string): string {
  let from = 0;
  let to = text.length;
  while (from < to && isOws(text[from])) from++;
  while (to > from && isOws(text[to - 1])) to--;
  return text.slice(from, to);
}

function allDigits(text: string): boolean {
  for (const ch of text) if (!isDigit(ch)) return false;
  return true;
}

/** One element of the list, or undefined when it is malformed. */
function modelSpec(part: string): Spec | undefined {
  const dash = part.indexOf("-");
  if (dash < 0 || part.indexOf("-", dash + 1) >= 0) return undefined;
  const left = trim(part.slice(0, dash));
  const right = trim(part.slice(dash + 1));
  // Whitespace is allowed next to the "-" only: "1 2-3" and "1-2 3" stay malformed.
  if (!allDigits(left) || !allDigits(right)) return undefined;
  if (left === "" && right === "") return undefined;
  const first = left === "" ? undefined : BigInt(left);
  const last = right === "" ? undefined : BigInt(right);
  if ((first ?? 0n) > MAX_SAFE || (last ?? 0n) > MAX_SAFE) return undefined;
  if (first === undefined) return { suffix: last as bigint };
  if (last !== undefined && last < first) return undefined;
  return { first, last };
}

function modelRange(header: string, size: number): Expected {
  const equals = header.indexOf("=");
  if (equals < 0) return "unsatisfiable";
  const unit = trim(header.slice(0, equals));
  // "bytes" in any case of ASCII letters (no other character lowercases to one of them here).
  if (unit.length !== 5 || unit.toLowerCase() !== "bytes") return "unsatisfiable";
  const parts = header
    .slice(equals + 1)
    .split(",")
    .map(trim)
    .filter((p) => p !== "");
  if (parts.length === 0 || parts.length > 64) return "unsatisfiable";
  const specs: Spec[] = [];
  for (const part of parts) {
    const spec = modelSpec(part);
    if (spec === undefined) return "unsatisfiable";
    specs.push(spec);
  }
  if (size === 0) return "unsatisfiable";
  const n = BigInt(size);
  const spans: { start: number; end: number }[] = [];
  for (const spec of specs) {
    if ("suffix" in spec) {
      if (spec.suffix === 0n) continue;
      const start = spec.suffix >= n ? 0n : n - spec.suffix;
      spans.push({ start: Number(start), end: size - 1 });
    } else {
      if (spec.first >= n) continue;
      const last = spec.last === undefined || spec.last >= n ? n - 1n : spec.last;
      spans.push({ start: Number(spec.first), end: Number(last) });
    }
  }
  if (spans.length === 0) return "unsatisfiable";
  if (spans.length > 1) return { kind: "full" };
  return { kind: "partial", ...(spans[0] as { start: number; end: number }) };
}

function check(header: string, size: number): void {
  const actual = parseRange(header, size);
  const expected = modelRange(header, size);
  const label = `${JSON.stringify(header)} of ${size} bytes`;
  if (expected === "unsatisfiable") {
    expect(actual.kind, label).toBe("unsatisfiable");
  } else {
    expect(actual, label).toEqual(expected);
  }
  invariants(actual, size, label);
}

function invariants(decision: RangeDecision, size: number, label: string): void {
  if (decision.kind === "partial") {
    const { start, end } = decision;
    expect(Number.isSafeInteger(start) && Number.isSafeInteger(end), label).toBe(true);
    expect(0 <= start && start <= end && end < size, label).toBe(true);
    expect(contentRange(start, end, size)).toBe(`bytes ${start}-${end}/${size}`);
  } else if (decision.kind === "unsatisfiable") {
    expect(decision.reason.length, label).toBeGreaterThan(0);
    expect(decision.reason.length, label).toBeLessThan(400);
    expect(unsatisfiedRange(size)).toBe(`bytes */${size}`);
  } else {
    expect(size, label).toBeGreaterThan(0);
  }
}

// ---- generators ----

const size = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 2) },
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 8000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(2 ** 32, 2 ** 32 + 1, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER),
  },
);

const ows = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });

/** Decimal digits: small, near interesting sizes, huge, or with leading zeros. */
const digits = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: 0, max: 6000 }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "9007199254740991",
      "9007199254740992",
      "9007199254740993",
      "18446744073709551615",
      "4294967296",
      "99999999999999999999999999",
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: fc.constant("0"), maxLength: 30 }), fc.nat(100))
      .map(([zeros, n]) => `${zeros}${n}`),
  },
);

/** A well-formed range spec, possibly with whitespace around its "-". */
const goodSpec = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 6000 }), fc.integer({ min: -5, max: 3000 }), ows, ows)
    .map(([a, d, s1, s2]) => `${a}${s1}-${s2}${Math.max(0, a + d)}`),
  fc.tuple(digits, ows, ows, digits).map(([a, s1, s2, b]) => `${a}${s1}-${s2}${b}`),
  fc.tuple(digits, ows).map(([a, s]) => `${a}${s}-`),
  fc.tuple(ows, digits).map(([s, b]) => `-${s}${b}`),
);

/** Anything from characters that matter to the grammar, and some that do not belong in it. */
const noiseSpec = fc.string({
  unit: fc.constantFrom(
    ..."0123456789-- ,\t+=;.eExab".split(""),
    "\u0660",
    "\uff11",
    "\u00a0",
    "\n",
    "\0",
  ),
  maxLength: 12,
});

const spec = fc.oneof({ weight: 20, arbitrary: goodSpec }, { weight: 1, arbitrary: noiseSpec });

const unit = fc.oneof(
  { weight: 20, arbitrary: fc.mixedCase(fc.constant("bytes")) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "items", "bits", "by tes", "bytes;", "\u0062ytes\u200b", "byte"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

/** Joins specs with commas, whitespace and empty list elements. */
const rangeSet = fc
  .array(fc.tuple(spec, ows, ows, fc.constantFrom(",", ",", ",", ", ,", ",,", " , ")), {
    minLength: 1,
    maxLength: 4,
  })
  .map((items) =>
    items.map(([s, a, b, sep], i) => `${a}${s}${b}${i < items.length - 1 ? sep : ""}`),
  )
  .map((parts) => parts.join(""));

const header = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(ows, unit, ows, rangeSet, fc.constantFrom("", ",", " ", ", "))
      .map(([a, u, b, set, tail]) => `${a}${u}${b}=${set}${tail}`),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: "binary", maxLength: 20 }).map((s) => `bytes=${s}`),
  },
);

describe("parseRange against a reference model", { timeout: TIMEOUT }, () => {
  it("agrees on generated and mutated headers", () => {
    fc.assert(
      fc.property(header, size, (h, s) => check(h, s)),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });

  it("agrees on single well-formed ranges around the size", () => {
    const position = (n: number) =>
      fc.oneof(
        fc.integer({ min: 0, max: n + 3 }),
        fc.constantFrom(n - 1, n, n + 1).filter((p) => p >= 0),
      );
    const arb = size.chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.oneof(
          fc.tuple(position(s), position(s)).map(([a, b]) => `bytes=${a}-${b}`),
          position(s).map((a) => `bytes=${a}-`),
          position(s).map((b) => `bytes=-${b}`),
        ),
      ),
    );
    fc.assert(
      fc.property(arb, ([s, h]) => check(h, s)),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });

  it("agrees on lists near the limit of ranges", () => {
    const arb = fc.tuple(
      fc.array(goodSpec, { minLength: MAX_RANGES - 2, maxLength: MAX_RANGES + 2 }),
      fc.integer({ min: 0, max: 3000 }),
    );
    fc.assert(
      fc.property(arb, ([specs, s]) => check(`bytes=${specs.join(",")}`, s)),
      { numRuns: fuzzRuns(1 / 2) },
    );
  });

  it("refuses with a RangeError any size that is not a non-negative safe integer", () => {
    const bad = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double().filter((d) => !Number.isSafeInteger(d) || d < 0),
      fc.constantFrom(2 ** 53, Number.NaN, Number.POSITIVE_INFINITY),
    );
    fc.assert(
      fc.property(header, bad, (h, s) => {
        expect(() => parseRange(h, s)).toThrow(RangeError);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
