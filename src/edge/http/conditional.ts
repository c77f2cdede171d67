import { quote, trimOws } from "./field-text.js";

/**
 * Conditional requests (RFC 9110 §13) for a representation with a strong ETag and, when known, a
 * Last-Modified date, as pure functions on header values.
 */

/** The validators of the selected representation. */
export type Validators = {
  /** A quoted strong entity-tag, e.g. `"abc"` with the quotes. */
  etag: string;
  lastModified?: Date;
};

/** What the preconditions of a request decide (RFC 9110 §13.2.2). */
export type Precondition =
  | { kind: "proceed" }
  | { kind: "not-modified" }
  | { kind: "failed" }
  | { kind: "bad-request"; reason: string };

/** An entity-tag; `opaque` keeps its double quotes, as in RFC 9110's `opaque-tag`. */
export type EntityTag = { weak: boolean; opaque: string };

/** An If-Match or If-None-Match value: `*`, a list of entity-tags, or why it is neither. */
export type EntityTagList = { any: true } | { tags: EntityTag[] } | { error: string };

type Compare = (listed: EntityTag, own: EntityTag) => boolean;

const ENTITY_TAG = /(W\/)?("[\x21\x23-\x7E\x80-\xFF]*")/y;
const ETAGC = /^[\x21\x23-\x7E\x80-\xFF]$/;
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
 * RFC 9110 §13.2.2. `method` is the request's method as the Fetch API gives it ("GET", "HEAD", ...).
 * The caller answers "failed" with 412, "not-modified" with 304 and "bad-request" with 400.
 */
export function evaluatePreconditions(
  headers: Headers,
  v: Validators,
  method: string,
): Precondition {
  const ifMatch = headers.get("If-Match");
  if (ifMatch !== null) {
    const matched = listMatches("If-Match", ifMatch, v, strongMatch);
    if (typeof matched === "string") return { kind: "bad-request", reason: matched };
    if (!matched) return { kind: "failed" };
  } else if (modifiedSince(headers.get("If-Unmodified-Since"), v) === true) {
    return { kind: "failed" };
  }
  const ifNoneMatch = headers.get("If-None-Match");
  if (ifNoneMatch !== null) {
    const matched = listMatches("If-None-Match", ifNoneMatch, v, weakMatch);
    if (typeof matched === "string") return { kind: "bad-request", reason: matched };
    if (matched) return isRead(method) ? { kind: "not-modified" } : { kind: "failed" };
  } else if (isRead(method) && modifiedSince(headers.get("If-Modified-Since"), v) === false) {
    return { kind: "not-modified" };
  }
  return { kind: "proceed" };
}

/**
 * Whether a Range request may be answered with a part (If-Range, RFC 9110 §13.1.5): yes without
 * If-Range; with an entity-tag only if it strongly matches; with an HTTP-date only if it equals
 * Last-Modified to the second. Anything else, malformed included, means "send the whole 200".
 */
export function rangeApplies(headers: Headers, v: Validators): boolean {
  const value = headers.get("If-Range");
  if (value === null) return true;
  const text = trimOws(value);
  if (text.startsWith('"') || text.startsWith("W/")) {
    const list = parseEntityTagList(text);
    return (
      "tags" in list && list.tags.length === 1 && strongMatch(list.tags[0] as EntityTag, own(v))
    );
  }
  const date = parseHttpDate(text);
  return date !== undefined && v.lastModified !== undefined && sameSecond(date, v.lastModified);
}

/**
 * Parses `*` or a comma-separated list of entity-tags (`"a", W/"b" ,"c"`), with optional whitespace
 * and empty elements allowed as RFC 9110 §5.6.1 asks. An empty value is an empty list.
 */
export function parseEntityTagList(value: string): EntityTagList {
  const text = trimOws(value);
  if (text === "*") return { any: true };
  const tags: EntityTag[] = [];
  let at = skipSeparators(text, 0);
  while (at < text.length) {
    ENTITY_TAG.lastIndex = at;
    const match = ENTITY_TAG.exec(text);
    if (!match) return { error: whyNotEntityTag(text.slice(at)) };
    tags.push({ weak: match[1] !== undefined, opaque: match[2] as string });
    at = ENTITY_TAG.lastIndex;
    const next = skipSeparators(text, at);
    if (next < text.length && !text.slice(at, next).includes(",")) {
      return { error: `expected "," after ${match[0]}, found ${quote(text.slice(at))}` };
    }
    at = next;
  }
  return { tags };
}

/** `d` as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function formatHttpDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError("cannot format an invalid Date");
  return d.toUTCString();
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete rfc850 and asctime forms.
 * A two-digit rfc850 year more than 50 years after `now` belongs to the century before.
 * Returns undefined for anything else, including impossible dates such as 31 Feb.
 */
export function parseHttpDate(s: string, now: Date = new Date()): Date | undefined {
  const text = trimOws(s);
  let m = IMF_FIXDATE.exec(text);
  if (m) return utcDate(Number(m[3]), m[2] as string, Number(m[1]), m.slice(4));
  m = RFC850_DATE.exec(text);
  if (m) return utcDate(fullYear(Number(m[3]), now), m[2] as string, Number(m[1]), m.slice(4));
  m = ASCTIME_DATE.exec(text);
  if (m) return utcDate(Number(m[6]), m[1] as string, Number(m[2]), m.slice(3, 6));
  return undefined;
}

/** Whether the header value lists `*` or a tag that `compare` matches with our own, or why it is malformed. */
function listMatches(
  name: string,
  value: string,
  v: Validators,
  compare: Compare,
): boolean | string {
  const list = parseEntityTagList(value);
  if ("error" in list) {
    return `${name} must list quoted entity-tags such as "abc" or *: ${list.error}`;
  }
  if ("any" in list) return true;
  const ours = own(v);
  return list.tags.some((tag) => compare(tag, ours));
}

/** Strong comparison (RFC 9110 §8.8.3.2): neither tag is weak and both are the same. */
function strongMatch(listed: EntityTag, ours: EntityTag): boolean {
  return !listed.weak && !ours.weak && listed.opaque === ours.opaque;
}

/** Weak comparison: the same opaque tag, weak or not. */
function weakMatch(listed: EntityTag, ours: EntityTag): boolean {
  return listed.opaque === ours.opaque;
}

function own(v: Validators): EntityTag {
  const list = parseEntityTagList(v.etag);
  const tag = "tags" in list && list.tags.length === 1 ? list.tags[0] : undefined;
  if (!tag) throw new TypeError(`representation ETag ${quote(v.etag)} is not one entity-tag`);
  return tag;
}

/**
 * Whether the representation changed after the date in `value`, to the second; undefined when the
 * header is absent or not a valid HTTP-date, or when Last-Modified is unknown (then it is ignored).
 */
function modifiedSince(value: string | null, v: Validators): boolean | undefined {
  if (value === null || v.lastModified === undefined) return undefined;
  const date = parseHttpDate(value);
  if (date === undefined) return undefined;
  return seconds(v.lastModified) > seconds(date);
}

function isRead(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function sameSecond(a: Date, b: Date): boolean {
  return seconds(a) === seconds(b);
}

/** What is wrong with the list element at the start of `rest`. */
function whyNotEntityTag(rest: string): string {
  const weak = rest.startsWith("W/");
  const body = weak ? rest.slice(2) : rest;
  if (!body.startsWith('"')) return `${quote(rest)} is not quoted`;
  const close = body.indexOf('"', 1);
  const inside = close < 0 ? body.slice(1) : body.slice(1, close);
  const bad = [...inside].find((c) => !ETAGC.test(c));
  if (bad !== undefined)
    return `${quote(rest)} holds ${JSON.stringify(bad)}, not allowed in an entity-tag`;
  return `${quote(rest)} has no closing quote`;
}

function skipSeparators(text: string, at: number): number {
  let i = at;
  while (i < text.length && (text[i] === "," || text[i] === " " || text[i] === "\t")) i++;
  return i;
}

/** The year of a two-digit rfc850 year: the one within 50 years before and 50 years after `now`. */
function fullYear(twoDigits: number, now: Date): number {
  const thisYear = now.getUTCFullYear();
  const year = thisYear - (thisYear % 100) + twoDigits;
  if (year > thisYear + 50) return year - 100;
  return year <= thisYear - 50 ? year + 100 : year;
}

function utcDate(year: number, month: string, day: number, time: string[]): Date | undefined {
  const [hour, minute, second] = time.map(Number) as [number, number, number];
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(year, MONTHS.indexOf(month), day);
  if (d.getUTCDate() !== day) return undefined;
  d.setUTCHours(hour, minute, second, 0);
  return d;
}
