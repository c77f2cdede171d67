import { describe, expect, it } from "vitest";
import {
  contentRange,
  MAX_RANGES,
  parseRange,
  type RangeDecision,
  unsatisfiedRange,
} from "../../../src/edge/http/range.js";

const SIZE = 1000;

function partial(start: number, end: number): RangeDecision {
  return { kind: "partial", start, end };
}

function expectUnsatisfiable(decision: RangeDecision, reason: RegExp): void {
  expect(decision.kind).toBe("unsatisfiable");
  if (decision.kind === "unsatisfiable") expect(decision.reason).toMatch(reason);
}

describe("parseRange: one satisfiable range", () => {
  it.each([
    ["bytes=0-0", partial(0, 0)],
    ["bytes=0-999", partial(0, 999)],
    ["bytes=999-999", partial(999, 999)],
    ["bytes=0-", partial(0, 999)],
    ["bytes=999-", partial(999, 999)],
    ["bytes=500-", partial(500, 999)],
    ["bytes=100-199", partial(100, 199)],
    ["bytes=0-1000", partial(0, 999)],
    ["bytes=998-1000", partial(998, 999)],
    ["bytes=5-99999", partial(5, 999)],
    ["bytes=-1", partial(999, 999)],
    ["bytes=-10", partial(990, 999)],
    ["bytes=-1000", partial(0, 999)],
    ["bytes=-1001", partial(0, 999)],
    ["bytes=-9007199254740991", partial(0, 999)],
    ["bytes=0-9007199254740991", partial(0, 999)],
    ["bytes=007-010", partial(7, 10)],
  ])("%s of %i bytes", (header, expected) => {
    expect(parseRange(header, SIZE)).toEqual(expected);
  });

  it.each([
    ["BYTES=1-2", partial(1, 2)],
    ["Bytes=1-2", partial(1, 2)],
    [" bytes=1-2 ", partial(1, 2)],
    ["bytes= 1-2", partial(1, 2)],
    ["bytes=1-2 ", partial(1, 2)],
    ["bytes =1-2", partial(1, 2)],
    ["bytes=1 - 2", partial(1, 2)],
    ["bytes=\t1-2\t", partial(1, 2)],
    ["bytes=- 5", partial(995, 999)],
    ["bytes=1-2,", partial(1, 2)],
    ["bytes=,1-2", partial(1, 2)],
    ["bytes=, ,1-2, ,", partial(1, 2)],
  ])("tolerates case and whitespace: %j", (header, expected) => {
    expect(parseRange(header, SIZE)).toEqual(expected);
  });

  it("serves a one-byte representation", () => {
    expect(parseRange("bytes=0-0", 1)).toEqual(partial(0, 0));
    expect(parseRange("bytes=0-1", 1)).toEqual(partial(0, 0));
    expect(parseRange("bytes=-1", 1)).toEqual(partial(0, 0));
    expect(parseRange("bytes=-2", 1)).toEqual(partial(0, 0));
    expect(parseRange("bytes=0-", 1)).toEqual(partial(0, 0));
  });

  it("works past 4 GiB", () => {
    const size = 2 ** 40;
    expect(parseRange(`bytes=${2 ** 33}-`, size)).toEqual(partial(2 ** 33, size - 1));
    expect(parseRange(`bytes=-${2 ** 32}`, size)).toEqual(partial(size - 2 ** 32, size - 1));
  });
});

describe("parseRange: nothing satisfiable", () => {
  it.each([
    ["bytes=1000-", /starts at byte 1000, past the last byte \(999\)/],
    ["bytes=1000-1000", /past the last byte/],
    ["bytes=1001-2000", /starts at byte 1001/],
    ["bytes=9007199254740991-", /past the last byte/],
    ["bytes=-0", /last 0 bytes/],
    ["bytes=-00", /last 0 bytes/],
  ])("%s of %i bytes", (header, reason) => {
    expectUnsatisfiable(parseRange(header, SIZE), reason);
  });

  it.each(["bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=5-10", "bytes=0-0,1-1"])(
    "an empty representation satisfies no range: %s",
    (header) => {
      expectUnsatisfiable(parseRange(header, 0), /empty/);
    },
  );

  it("still reports malformed ranges of an empty representation as malformed", () => {
    expectUnsatisfiable(parseRange("bytes=abc", 0), /malformed/);
  });
});

describe("parseRange: malformed headers", () => {
  it.each([
    ["bytes=", /no byte range/],
    ["bytes=,", /no byte range/],
    ["bytes= , ", /no byte range/],
    ["bytes=5-2", /"5-2" ends before it starts/],
    ["bytes=1-0", /ends before it starts/],
    ["bytes=abc", /"abc" is malformed/],
    ["bytes=a-b", /"a-b" is malformed \(byte positions are decimal digits\)/],
    ["bytes=1-b", /decimal digits/],
    ["bytes=1.5-2", /decimal digits/],
    ["bytes=0x10-0x20", /malformed/],
    ["bytes=1e3-", /malformed/],
    ["bytes=１-２", /malformed/],
    ["bytes=-", /neither a first byte nor a suffix length/],
    ["bytes=1-2-3", /"1-2-3" is malformed \(a range has exactly one "-"/],
    ["bytes=--5", /exactly one "-"/],
    ["bytes=-5-", /exactly one "-"/],
    ["bytes=5--3", /never negative/],
    ["bytes=+5-6", /no sign/],
    ["bytes=5-+6", /no sign/],
    ["bytes=-+5", /no sign/],
    ["bytes=1 2-3", /malformed/],
    ["bytes=1-2;3-4", /malformed/],
    ["bytes=9007199254740992-", /too large/],
    ["bytes=0-9007199254740992", /too large/],
    ["bytes=-9007199254740992", /too large/],
    ["bytes=99999999999999999999999999-", /too large/],
    ["bytes=0-18446744073709551615", /too large/],
    ["items=0-1", /unit "items" is not supported/],
    ["bits=0-1", /not supported/],
    ["none", /no "="/],
    ["", /no "="/],
    ["0-1", /no "="/],
    ["=0-1", /does not start with a unit/],
    ["by tes=0-1", /does not start with a unit/],
    ["bytes=0-1=2", /malformed/],
  ])("%j", (header, reason) => {
    expectUnsatisfiable(parseRange(header, SIZE), reason);
  });

  it("shortens a long malformed part in the reason", () => {
    const decision = parseRange(`bytes=${"x".repeat(5000)}`, SIZE);
    expectUnsatisfiable(decision, /x…"/);
    if (decision.kind === "unsatisfiable") expect(decision.reason.length).toBeLessThan(200);
  });
});

describe("parseRange: several ranges", () => {
  it.each([
    ["bytes=0-1,5-6", { kind: "full" }],
    ["bytes=0-1, 5-6", { kind: "full" }],
    ["bytes=0-499,500-999", { kind: "full" }],
    ["bytes=0-10,5-20", { kind: "full" }],
    ["bytes=0-1,0-1", { kind: "full" }],
    ["bytes=-1,0-0", { kind: "full" }],
    ["bytes=0-1,2000-3000", partial(0, 1)],
    ["bytes=2000-3000,10-20", partial(10, 20)],
    ["bytes=2000-, -5", partial(995, 999)],
    ["bytes=-0,3-4", partial(3, 4)],
    ["bytes=0-1,1000-,2000-3000", partial(0, 1)],
  ])("%s", (header, expected) => {
    expect(parseRange(header, SIZE)).toEqual(expected);
  });

  it.each([
    ["bytes=1000-,2000-", /none of the 2 ranges selects any of the 1000 bytes/],
    ["bytes=1000-1001,-0,5000-", /none of the 3 ranges/],
    ["bytes=0-1,abc", /"abc" is malformed/],
    ["bytes=abc,0-1", /"abc" is malformed/],
    ["bytes=0-1,5-2,8-9", /ends before it starts/],
    ["bytes=0-1,+2-3", /no sign/],
    ["bytes=0-1,9007199254740992-", /too large/],
  ])("%s is unsatisfiable", (header, reason) => {
    expectUnsatisfiable(parseRange(header, SIZE), reason);
  });

  it(`accepts ${MAX_RANGES} ranges and refuses ${MAX_RANGES + 1}`, () => {
    const parts = (n: number) => Array.from({ length: n }, (_, i) => `${i * 10}-${i * 10 + 1}`);
    expect(MAX_RANGES).toBe(64);
    expect(parseRange(`bytes=${parts(64).join(",")}`, SIZE)).toEqual({ kind: "full" });
    expectUnsatisfiable(parseRange(`bytes=${parts(65).join(",")}`, SIZE), /too many ranges: 65/);
    const farAway = [...parts(1), ...Array(64).fill("5000-")].join(",");
    expectUnsatisfiable(parseRange(`bytes=${farAway}`, SIZE), /too many ranges/);
  });

  it("does not count empty list elements as ranges", () => {
    expect(parseRange(`bytes=0-1${",".repeat(200)}`, SIZE)).toEqual(partial(0, 1));
  });
});

describe("parseRange: programming errors", () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("refuses size %d", (size) => {
    expect(() => parseRange("bytes=0-0", size)).toThrow(RangeError);
  });
});

describe("Content-Range values", () => {
  it.each([
    [0, 0, 1, "bytes 0-0/1"],
    [0, 999, 1000, "bytes 0-999/1000"],
    [995, 999, 1000, "bytes 995-999/1000"],
    [2 ** 33, 2 ** 34 - 1, 2 ** 34, `bytes ${2 ** 33}-${2 ** 34 - 1}/${2 ** 34}`],
  ])("contentRange(%i, %i, %i) = %s", (start, end, size, expected) => {
    expect(contentRange(start, end, size)).toBe(expected);
  });

  it.each([
    [0, "bytes */0"],
    [1000, "bytes */1000"],
  ])("unsatisfiedRange(%i) = %s", (size, expected) => {
    expect(unsatisfiedRange(size)).toBe(expected);
  });
});

/** What one range spec selects, written as plainly as possible: a span, "none", or "malformed". */
type ModelPart = { start: number; end: number } | "none" | "malformed";

function modelPart(a: number | undefined, b: number | undefined, size: number): ModelPart {
  if (a === undefined && b !== undefined) {
    if (b === 0 || size === 0) return "none";
    return { start: Math.max(0, size - b), end: size - 1 };
  }
  if (a !== undefined && b !== undefined && b < a) return "malformed";
  if (a === undefined || a >= size) return "none";
  return { start: a, end: b === undefined ? size - 1 : Math.min(b, size - 1) };
}

function model(parts: ModelPart[], size: number): RangeDecision["kind"] | RangeDecision {
  if (parts.includes("malformed")) return "unsatisfiable";
  const spans = parts.filter((p) => typeof p !== "string");
  const [only] = spans;
  if (size === 0 || only === undefined) return "unsatisfiable";
  if (spans.length > 1) return { kind: "full" };
  return { kind: "partial", ...only };
}

function specs(max: number): [string, number | undefined, number | undefined][] {
  const out: [string, number | undefined, number | undefined][] = [];
  for (let a = 0; a <= max; a++) {
    out.push([`${a}-`, a, undefined], [`-${a}`, undefined, a]);
    for (let b = 0; b <= max; b++) out.push([`${a}-${b}`, a, b]);
  }
  return out;
}

function compare(header: string, size: number, expected: ReturnType<typeof model>): void {
  const actual = parseRange(header, size);
  if (expected === "unsatisfiable") expect(actual.kind, `${header} of ${size}`).toBe(expected);
  else expect(actual, `${header} of ${size}`).toEqual(expected);
}

describe("parseRange agrees with a reference model", () => {
  it("on every single range with positions 0..12 and sizes 0..10", () => {
    let checked = 0;
    for (let size = 0; size <= 10; size++) {
      for (const [spec, a, b] of specs(12)) {
        compare(`bytes=${spec}`, size, model([modelPart(a, b, size)], size));
        checked++;
      }
    }
    expect(checked).toBe(11 * (13 * 13 + 2 * 13));
  });

  it("on every pair of ranges with positions 0..5 and sizes 0..6", () => {
    const all = specs(5);
    for (let size = 0; size <= 6; size++) {
      for (const [s1, a1, b1] of all) {
        for (const [s2, a2, b2] of all) {
          const parts = [modelPart(a1, b1, size), modelPart(a2, b2, size)];
          compare(`bytes=${s1}, ${s2}`, size, model(parts, size));
        }
      }
    }
  });
});
