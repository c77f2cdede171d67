import { describe, expect, it } from "vitest";
import {
  evaluatePreconditions,
  formatHttpDate,
  type Precondition,
  parseEntityTagList,
  parseHttpDate,
  rangeApplies,
  type Validators,
} from "../../../src/edge/http/conditional.js";

const ETAG = '"abc"';
const MODIFIED = new Date("2024-05-06T07:08:09.500Z");
const AT = "Mon, 06 May 2024 07:08:09 GMT";
const BEFORE = "Mon, 06 May 2024 07:08:08 GMT";
const AFTER = "Mon, 06 May 2024 07:08:10 GMT";
const V: Validators = { etag: ETAG, lastModified: MODIFIED };
const NO_DATE: Validators = { etag: ETAG };

const PROCEED: Precondition = { kind: "proceed" };
const NOT_MODIFIED: Precondition = { kind: "not-modified" };
const FAILED: Precondition = { kind: "failed" };

function evaluate(headers: Record<string, string>, method = "GET", v = V): Precondition {
  return evaluatePreconditions(new Headers(headers), v, method);
}

function expectBadRequest(decision: Precondition, reason: RegExp): void {
  expect(decision.kind).toBe("bad-request");
  if (decision.kind === "bad-request") expect(decision.reason).toMatch(reason);
}

describe("evaluatePreconditions: no preconditions", () => {
  it.each(["GET", "HEAD", "PUT", "DELETE"])("%s proceeds", (method) => {
    expect(evaluate({}, method)).toEqual(PROCEED);
  });
});

describe("If-Match", () => {
  it.each([
    ['"abc"', PROCEED],
    ["*", PROCEED],
    [" * ", PROCEED],
    ['"x", "abc"', PROCEED],
    ['"x","abc" , "y"', PROCEED],
    ['W/"x", "abc"', PROCEED],
    ['W/"abc"', FAILED],
    ['W/"abc", "x"', FAILED],
    ['"x"', FAILED],
    ['"ABC"', FAILED],
    ['"abc "', null],
    ["", FAILED],
    ['""', FAILED],
  ])("If-Match: %s", (value, expected) => {
    const decision = evaluate({ "If-Match": value });
    if (expected === null) expectBadRequest(decision, /If-Match must list quoted entity-tags/);
    else expect(decision).toEqual(expected);
  });

  it.each(["GET", "HEAD", "PUT", "DELETE"])("fails for %s as well", (method) => {
    expect(evaluate({ "If-Match": '"x"' }, method)).toEqual(FAILED);
    expect(evaluate({ "If-Match": '"abc"' }, method)).toEqual(PROCEED);
  });

  it("never matches when our own tag is weak", () => {
    expect(evaluate({ "If-Match": 'W/"abc"' }, "GET", { etag: 'W/"abc"' })).toEqual(FAILED);
    expect(evaluate({ "If-Match": '"abc"' }, "GET", { etag: 'W/"abc"' })).toEqual(FAILED);
  });
});

describe("If-Unmodified-Since", () => {
  it.each([
    [AT, PROCEED],
    [AFTER, PROCEED],
    ["Tue, 01 Jan 2030 00:00:00 GMT", PROCEED],
    [BEFORE, FAILED],
    ["Thu, 01 Jan 1970 00:00:00 GMT", FAILED],
    ["Monday, 06-May-24 07:08:08 GMT", FAILED],
    ["Mon May  6 07:08:08 2024", FAILED],
    ["not a date", PROCEED],
    ["2024-05-06T07:08:08Z", PROCEED],
    ["Mon, 06 May 2024 07:08:08 UTC", PROCEED],
    ["", PROCEED],
  ])("If-Unmodified-Since: %s", (value, expected) => {
    expect(evaluate({ "If-Unmodified-Since": value })).toEqual(expected);
    expect(evaluate({ "If-Unmodified-Since": value }, "PUT")).toEqual(expected);
  });

  it("is ignored when Last-Modified is unknown", () => {
    expect(evaluate({ "If-Unmodified-Since": BEFORE }, "GET", NO_DATE)).toEqual(PROCEED);
  });
});

describe("If-None-Match", () => {
  it.each([
    ['"abc"', NOT_MODIFIED],
    ['W/"abc"', NOT_MODIFIED],
    ["*", NOT_MODIFIED],
    ['"x", W/"abc"', NOT_MODIFIED],
    [' "x" ,, "abc" ', NOT_MODIFIED],
    ['"x"', PROCEED],
    ['"x", W/"y"', PROCEED],
    ['"abc"x', null],
    ["", PROCEED],
  ])("GET with If-None-Match: %s", (value, expected) => {
    const decision = evaluate({ "If-None-Match": value });
    if (expected === null) expectBadRequest(decision, /If-None-Match must list/);
    else expect(decision).toEqual(expected);
  });

  it.each([
    ["GET", NOT_MODIFIED],
    ["HEAD", NOT_MODIFIED],
    ["PUT", FAILED],
    ["POST", FAILED],
    ["DELETE", FAILED],
  ])("a match for %s", (method, expected) => {
    expect(evaluate({ "If-None-Match": '"abc"' }, method)).toEqual(expected);
    expect(evaluate({ "If-None-Match": "*" }, method)).toEqual(expected);
    expect(evaluate({ "If-None-Match": '"x"' }, method)).toEqual(PROCEED);
  });

  it.each([
    ["abc", /"abc" is not quoted/],
    ['"abc', /"\\"abc" has no closing quote/],
    ['"a", "b', /has no closing quote/],
    ['"a" "b"', /expected "," after "a"/],
    ['"a";"b"', /expected ","/],
    ['"a" x', /expected ","/],
    ['"a b"', /not allowed in an entity-tag/],
    ['"a\\"b"', /expected ","/],
    ['*, "a"', /is not quoted/],
    ['"a", *', /is not quoted/],
    ['w/"a"', /is not quoted/],
    ['W/ "a"', /is not quoted/],
    ["W/abc", /is not quoted/],
    ["'abc'", /is not quoted/],
  ])("If-None-Match: %s is a bad request", (value, reason) => {
    const decision = evaluate({ "If-None-Match": value });
    expectBadRequest(decision, /^If-None-Match must list quoted entity-tags such as "abc" or \*: /);
    expectBadRequest(decision, reason);
  });
});

describe("If-Modified-Since", () => {
  it.each([
    [AT, NOT_MODIFIED],
    [AFTER, NOT_MODIFIED],
    ["Tue, 01 Jan 2030 00:00:00 GMT", NOT_MODIFIED],
    [BEFORE, PROCEED],
    ["Sunday, 06-Nov-94 08:49:37 GMT", PROCEED],
    ["Monday, 06-May-24 07:08:09 GMT", NOT_MODIFIED],
    ["Mon May  6 07:08:09 2024", NOT_MODIFIED],
    ["garbage", PROCEED],
    ["Mon, 31 Feb 2024 07:08:09 GMT", PROCEED],
    [`${AT}, ${AT}`, PROCEED],
  ])("GET with If-Modified-Since: %s", (value, expected) => {
    expect(evaluate({ "If-Modified-Since": value })).toEqual(expected);
  });

  it.each([
    ["GET", NOT_MODIFIED],
    ["HEAD", NOT_MODIFIED],
    ["PUT", PROCEED],
    ["POST", PROCEED],
  ])("applies to GET and HEAD only: %s", (method, expected) => {
    expect(evaluate({ "If-Modified-Since": AT }, method)).toEqual(expected);
  });

  it("compares to the second: a Last-Modified with milliseconds is not newer", () => {
    const v = { etag: ETAG, lastModified: new Date("2024-05-06T07:08:09.999Z") };
    expect(evaluate({ "If-Modified-Since": AT }, "GET", v)).toEqual(NOT_MODIFIED);
    expect(evaluate({ "If-Unmodified-Since": AT }, "GET", v)).toEqual(PROCEED);
  });

  it("is ignored when Last-Modified is unknown", () => {
    expect(evaluate({ "If-Modified-Since": AFTER }, "GET", NO_DATE)).toEqual(PROCEED);
  });
});

describe("evaluatePreconditions: precedence (RFC 9110 §13.2.2)", () => {
  it.each<[string, Record<string, string>, string, Precondition | RegExp]>([
    [
      "a failing If-Match wins over a matching If-None-Match",
      { "If-Match": '"x"', "If-None-Match": '"abc"' },
      "GET",
      FAILED,
    ],
    [
      "a failing If-Match wins over a malformed If-None-Match",
      { "If-Match": '"x"', "If-None-Match": "abc" },
      "GET",
      FAILED,
    ],
    [
      "a passing If-Match leaves If-None-Match to decide",
      { "If-Match": '"abc"', "If-None-Match": '"abc"' },
      "GET",
      NOT_MODIFIED,
    ],
    [
      "a passing If-Match, If-None-Match for PUT",
      { "If-Match": "*", "If-None-Match": "*" },
      "PUT",
      FAILED,
    ],
    [
      "If-Match makes If-Unmodified-Since ignored",
      { "If-Match": '"abc"', "If-Unmodified-Since": BEFORE },
      "GET",
      PROCEED,
    ],
    [
      "a malformed If-Match is reported first",
      { "If-Match": "abc", "If-None-Match": '"abc"' },
      "GET",
      /^If-Match must list/,
    ],
    [
      "a failing If-Unmodified-Since wins over If-None-Match",
      { "If-Unmodified-Since": BEFORE, "If-None-Match": '"abc"' },
      "GET",
      FAILED,
    ],
    [
      "a passing If-Unmodified-Since leaves If-None-Match to decide",
      { "If-Unmodified-Since": AT, "If-None-Match": '"abc"' },
      "HEAD",
      NOT_MODIFIED,
    ],
    [
      "If-None-Match makes If-Modified-Since ignored (no match)",
      { "If-None-Match": '"x"', "If-Modified-Since": AFTER },
      "GET",
      PROCEED,
    ],
    [
      "If-None-Match makes If-Modified-Since ignored (match)",
      { "If-None-Match": '"abc"', "If-Modified-Since": BEFORE },
      "GET",
      NOT_MODIFIED,
    ],
    [
      "a malformed If-None-Match is not rescued by If-Modified-Since",
      { "If-None-Match": "abc", "If-Modified-Since": AFTER },
      "GET",
      /^If-None-Match must list/,
    ],
    [
      "If-Modified-Since after a passing If-Match",
      { "If-Match": '"abc"', "If-Modified-Since": AT },
      "GET",
      NOT_MODIFIED,
    ],
    [
      "every header passing",
      {
        "If-Match": '"abc"',
        "If-Unmodified-Since": AT,
        "If-None-Match": '"x"',
        "If-Modified-Since": BEFORE,
      },
      "GET",
      PROCEED,
    ],
  ])("%s", (_, headers, method, expected) => {
    const decision = evaluate(headers, method);
    if (expected instanceof RegExp) expectBadRequest(decision, expected);
    else expect(decision).toEqual(expected);
  });
});

describe("rangeApplies (If-Range)", () => {
  it.each<[string | null, boolean]>([
    [null, true],
    ['"abc"', true],
    [' "abc" ', true],
    ['"old"', false],
    ['W/"abc"', false],
    ['"abc", "x"', false],
    ['"abc"x', false],
    ['"abc', false],
    ["abc", false],
    ["*", false],
    ["", false],
    [AT, true],
    [BEFORE, false],
    [AFTER, false],
    ["Monday, 06-May-24 07:08:09 GMT", true],
    ["Mon May  6 07:08:09 2024", true],
    ["Mon, 06 May 2024 07:08:09 UTC", false],
    ["yesterday", false],
  ])("If-Range: %s → %s", (value, expected) => {
    const headers = new Headers(value === null ? {} : { "If-Range": value });
    expect(rangeApplies(headers, V)).toBe(expected);
  });

  it("refuses a date when Last-Modified is unknown", () => {
    expect(rangeApplies(new Headers({ "If-Range": AT }), NO_DATE)).toBe(false);
    expect(rangeApplies(new Headers({ "If-Range": ETAG }), NO_DATE)).toBe(true);
  });
});

describe("parseEntityTagList", () => {
  it.each([
    ["*", { any: true }],
    ['"a"', { tags: [{ weak: false, opaque: '"a"' }] }],
    ['W/"a"', { tags: [{ weak: true, opaque: '"a"' }] }],
    ['""', { tags: [{ weak: false, opaque: '""' }] }],
    ['"*"', { tags: [{ weak: false, opaque: '"*"' }] }],
    [
      '"a", W/"b" ,"c"',
      {
        tags: [
          { weak: false, opaque: '"a"' },
          { weak: true, opaque: '"b"' },
          { weak: false, opaque: '"c"' },
        ],
      },
    ],
    [
      '\t"a",\t"b"\t',
      {
        tags: [
          { weak: false, opaque: '"a"' },
          { weak: false, opaque: '"b"' },
        ],
      },
    ],
    [',, "a" ,,', { tags: [{ weak: false, opaque: '"a"' }] }],
    ['"a/b,c"', { tags: [{ weak: false, opaque: '"a/b,c"' }] }],
    ['"\x80\xff!#~"', { tags: [{ weak: false, opaque: '"\x80\xff!#~"' }] }],
    ["", { tags: [] }],
    [" , ", { tags: [] }],
  ])("%j", (value, expected) => {
    expect(parseEntityTagList(value)).toEqual(expected);
  });

  it.each(["abc", '"abc', 'W/"a', '"a"b', '"a" "b"', "**", '"\x01"', '"a\x7f"', "W/*"])(
    "%j is an error",
    (value) => {
      expect(parseEntityTagList(value)).toHaveProperty("error");
    },
  );
});

describe("HTTP dates", () => {
  const NOW = new Date("2026-01-01T00:00:00Z");

  it.each([
    ["Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37.000Z"],
    ["Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37.000Z"],
    ["Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37.000Z"],
    ["Thu Feb 29 00:00:00 2024", "2024-02-29T00:00:00.000Z"],
    ["Thu, 29 Feb 2024 23:59:59 GMT", "2024-02-29T23:59:59.000Z"],
    ["Thursday, 01-Jan-70 00:00:00 GMT", "2070-01-01T00:00:00.000Z"],
    ["Thursday, 01-Jan-77 00:00:00 GMT", "1977-01-01T00:00:00.000Z"],
    ["Saturday, 01-Jan-00 00:00:00 GMT", "2000-01-01T00:00:00.000Z"],
    ["Mon, 01 Jan 0001 00:00:00 GMT", "0001-01-01T00:00:00.000Z"],
    [" Sun, 06 Nov 1994 08:49:37 GMT ", "1994-11-06T08:49:37.000Z"],
  ])("parses %j", (text, iso) => {
    expect(parseHttpDate(text, NOW)?.toISOString()).toBe(iso);
  });

  it.each([
    [2026, "76", 2076],
    [2026, "77", 1977],
    [2090, "10", 2110],
    [2090, "40", 2140],
    [2090, "41", 2041],
  ])(
    "reads a two-digit rfc850 year as at most 50 years ahead (in %i, %s is %i)",
    (now, yy, year) => {
      const d = parseHttpDate(`Friday, 01-Jan-${yy} 00:00:00 GMT`, new Date(Date.UTC(now, 5)));
      expect(d?.getUTCFullYear()).toBe(year);
    },
  );

  it.each([
    "",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 +0000",
    "Sun, 06 Nov 1994 8:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:00 GMT",
    "Sun, 31 Nov 1994 08:49:37 GMT",
    "Sun, 00 Nov 1994 08:49:37 GMT",
    "Fri, 29 Feb 2023 00:00:00 GMT",
    "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT",
    "Sun Nov 6 08:49:37 1994",
    "1994-11-06T08:49:37Z",
    "784111777",
  ])("refuses %j", (text) => {
    expect(parseHttpDate(text, NOW)).toBeUndefined();
  });

  it("formats an IMF-fixdate that parses back to the same second", () => {
    expect(formatHttpDate(new Date("1994-11-06T08:49:37.123Z"))).toBe(
      "Sun, 06 Nov 1994 08:49:37 GMT",
    );
    expect(formatHttpDate(MODIFIED)).toBe(AT);
    for (const ms of [0, 1, 86_399_999, 1_700_000_000_000, 4_102_444_800_000]) {
      const d = new Date(ms);
      expect(parseHttpDate(formatHttpDate(d))?.getTime()).toBe(Math.floor(ms / 1000) * 1000);
    }
  });

  it("refuses to format an invalid Date", () => {
    expect(() => formatHttpDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});
