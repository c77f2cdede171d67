/**
 * Property-based tests of refs (src/format/ref.ts) and ids (src/format/ids.ts): decoding random and
 * mutated documents throws nothing but a FormatError; valid refs and ref updates round-trip; rootfs
 * names and object ids are accepted exactly when they match the documented patterns
 * (`[a-z0-9][a-z0-9._-]{0,63}` and 64 lowercase hex digits), checked by hand-written references.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../src/format/base64.js";
import { FormatError } from "../../src/format/errors.js";
import {
  isObjectId,
  isRootfsName,
  objectIdProblem,
  parseObjectId,
  parseRootfsName,
  rootfsNameProblem,
} from "../../src/format/ids.js";
import { REF_HISTORY_LENGTH } from "../../src/format/limits.js";
import {
  decodeRef,
  decodeRefUpdate,
  encodeRef,
  encodeRefUpdate,
  type Ref,
  type RefUpdate,
} from "../../src/format/ref.js";
import { FUZZ_RUNS, fuzzTimeout, objectIdArb, onlyFormatError } from "../fixtures/fuzz.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(5);

// ---- references ----

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const HEX = "0123456789abcdef";

/** `[a-z0-9][a-z0-9._-]{0,63}`, character by character. */
function referenceRootfsName(value: string): boolean {
  if (value.length < 1 || value.length > 64) return false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    const alnum = LOWER.includes(ch) || DIGITS.includes(ch);
    if (!(alnum || (i > 0 && "._-".includes(ch)))) return false;
  }
  return true;
}

/** Exactly 64 characters, each 0-9 or a-f. */
function referenceObjectId(value: string): boolean {
  if (value.length !== 64) return false;
  for (const ch of value) if (!HEX.includes(ch)) return false;
  return true;
}

// ---- generators ----

const objectId = objectIdArb;
const rootfsName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
const published = fc
  .date({
    min: new Date("0000-01-01T00:00:00.000Z"),
    max: new Date("9999-12-31T23:59:59.999Z"),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());
const signature = fc.record({
  key: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase64),
  sig: fc.uint8Array({ minLength: 64, maxLength: 64 }).map(toBase64),
});

const refUpdate: fc.Arbitrary<RefUpdate> = fc
  .record({ manifest: objectId, published, signature: fc.option(signature, { nil: undefined }) })
  .map(({ signature: s, ...rest }) => (s === undefined ? rest : { ...rest, signature: s }));

const ref: fc.Arbitrary<Ref> = fc
  .tuple(rootfsName, refUpdate, fc.array(objectId, { maxLength: REF_HISTORY_LENGTH }))
  .map(([name, update, previous]) => ({ name, previous, ...update }));

/** Strings that come close to a name: its alphabet, its neighbours, unicode, NUL, "/", "..". */
const nameLike = fc.oneof(
  rootfsName,
  fc.string({
    unit: fc.constantFrom(
      ..."az09._-AZ/\\ :@%~+".split(""),
      "..",
      "\0",
      "\n",
      "\u0131",
      "\u212a",
      "\u00e9",
      "\ud83d\ude00",
      "\ud800",
    ),
    maxLength: 70,
  }),
  fc.string({ unit: "binary", maxLength: 70 }),
  fc.integer({ min: 60, max: 70 }).map((n) => "a".repeat(n)),
  rootfsName.map((s) => `${s}\n`),
  rootfsName.map((s) => `.${s}`),
  rootfsName.map((s) => s.toUpperCase()),
);

const idLike = fc.oneof(
  objectId,
  objectId.map((s) => s.toUpperCase()),
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFgx \n".split("")), maxLength: 70 }),
  fc.string({
    unit: fc.constantFrom(..."0123456789abcdef".split("")),
    minLength: 62,
    maxLength: 66,
  }),
  objectId.map((s) => `${s}\n`),
  fc.string({ unit: "binary", maxLength: 70 }),
);

// ---- mutations of encoded documents ----

const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    "",
    null,
    1,
    [],
    {},
    "edgeboot-ref",
    "2026-11-26T11:00:00.000Z",
    "2026-02-30T11:00:00.000Z",
    "2026-11-26T24:00:00.000Z",
    "2026-11-26T11:00:00.000+01:00",
    "0".repeat(64),
    `${"A".repeat(43)}=`,
    `${"A".repeat(86)}==`,
    "AAAA",
    " AAAA",
    "====",
  ),
);

type Mutation =
  | { kind: "flip"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "field"; key: string; value: unknown; nested: boolean }
  | { kind: "drop"; key: string };

const keys = fc.constantFrom(
  "format",
  "version",
  "name",
  "manifest",
  "published",
  "previous",
  "signature",
  "extra",
  "__proto__",
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("field" as const),
    key: keys,
    value: jsonValue,
    nested: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("drop" as const), key: keys }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === "flip") {
    if (bytes.byteLength === 0) return bytes;
    const out = bytes.slice();
    out[m.at % out.byteLength] = m.value;
    return out;
  }
  if (m.kind === "truncate") return bytes.slice(0, m.at % (bytes.byteLength + 1));
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return bytes;
  }
  if (typeof doc !== "object" || doc === null) return bytes;
  // JSON text rather than objects, so that "__proto__" becomes an own key as JSON.parse makes it.
  const entries = Object.entries(doc).filter(([k]) => k !== m.key);
  if (m.kind === "field") {
    const value =
      m.nested && typeof doc.signature === "object" && doc.signature !== null
        ? { ...(doc.signature as object), [m.key]: m.value }
        : m.value;
    entries.push([m.nested ? "signature" : m.key, value]);
  }
  const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join(",")}}`;
  return new TextEncoder().encode(text);
}

// ---- properties ----

describe("rootfs names", { timeout: TIMEOUT }, () => {
  it("are accepted exactly when they match [a-z0-9][a-z0-9._-]{0,63}", () => {
    fc.assert(
      fc.property(nameLike, (value) => {
        const valid = referenceRootfsName(value);
        expect(isRootfsName(value), JSON.stringify(value)).toBe(valid);
        const problem = rootfsNameProblem(value);
        expect(problem === undefined, JSON.stringify(value)).toBe(valid);
        if (problem !== undefined) expect(problem.length).toBeGreaterThan(0);
        if (valid) expect(parseRootfsName(value)).toBe(value);
        else expect(() => parseRootfsName(value)).toThrow(FormatError);
      }),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });

  it("are refused for non-strings by isRootfsName", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        if (typeof value !== "string") expect(isRootfsName(value)).toBe(false);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe("object ids", { timeout: TIMEOUT }, () => {
  it("are accepted exactly when they are 64 lowercase hex digits", () => {
    fc.assert(
      fc.property(idLike, (value) => {
        const valid = referenceObjectId(value);
        expect(isObjectId(value), JSON.stringify(value)).toBe(valid);
        const problem = objectIdProblem(value);
        expect(problem === undefined, JSON.stringify(value)).toBe(valid);
        if (valid) {
          expect(parseObjectId(value)).toBe(value);
        } else {
          expect(() => parseObjectId(value)).toThrow(FormatError);
          // A suggested lowercase spelling is itself a valid id.
          const suggested = /use ([^ ]+)$/.exec(problem ?? "")?.[1];
          if (suggested !== undefined) expect(referenceObjectId(suggested)).toBe(true);
        }
      }),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });
});

describe("refs", { timeout: TIMEOUT }, () => {
  it("round-trip through encodeRef and decodeRef", () => {
    fc.assert(
      fc.property(ref, (r) => {
        expect(decodeRef(encodeRef(r))).toEqual(r);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("round-trip as updates through encodeRefUpdate and decodeRefUpdate", () => {
    fc.assert(
      fc.property(refUpdate, (u) => {
        expect(decodeRefUpdate(encodeRefUpdate(u))).toEqual(u);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("decode mutated refs to a FormatError or to a valid ref that round-trips", () => {
    fc.assert(
      fc.property(ref, fc.array(mutation, { minLength: 1, maxLength: 3 }), (r, ms) => {
        const bytes = ms.reduce(mutate, encodeRef(r));
        const result = onlyFormatError(() => decodeRef(bytes));
        if (result instanceof FormatError) return;
        const decoded = result as Ref;
        expect(isRootfsName(decoded.name)).toBe(true);
        expect(isObjectId(decoded.manifest)).toBe(true);
        expect(decoded.previous.length).toBeLessThanOrEqual(REF_HISTORY_LENGTH);
        expect(decoded.previous.every(isObjectId)).toBe(true);
        expect(decodeRef(encodeRef(decoded))).toEqual(decoded);
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("decode mutated ref updates to a FormatError or to a valid update that round-trips", () => {
    fc.assert(
      fc.property(refUpdate, fc.array(mutation, { minLength: 1, maxLength: 3 }), (u, ms) => {
        const bytes = ms.reduce(mutate, encodeRefUpdate(u));
        const result = onlyFormatError(() => decodeRefUpdate(bytes));
        if (result instanceof FormatError) return;
        const decoded = result as RefUpdate;
        expect(isObjectId(decoded.manifest)).toBe(true);
        expect(decodeRefUpdate(encodeRefUpdate(decoded))).toEqual(decoded);
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("refuse random JSON and random bytes with a FormatError only", () => {
    const bytes = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc
        .dictionary(keys, jsonValue, { maxKeys: 8 })
        .map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc.uint8Array({ maxLength: 80 }),
      fc
        .integer({ min: 16 * 1024 - 2, max: 16 * 1024 + 2 })
        .map((n) => new TextEncoder().encode(`{"x":"${"a".repeat(Math.max(0, n - 8))}"}`)),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        onlyFormatError(() => decodeRef(b));
        onlyFormatError(() => decodeRefUpdate(b));
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });
});

describe("publish times", { timeout: TIMEOUT }, () => {
  /** Days 29-31 of every month and 24:00, which Date.parse rolls over instead of refusing. */
  const calendarEdge = fc
    .record({
      year: fc.integer({ min: 1970, max: 2100 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 28, max: 31 }),
      midnight: fc.boolean(),
    })
    .map(({ year, month, day, midnight }) => {
      const pad = (n: number, w = 2) => String(n).padStart(w, "0");
      const time = midnight ? "24:00:00.000" : "11:00:00.000";
      return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${time}Z`;
    });

  // Found by this fuzzing and fixed; kept as a regression test.
  it("are accepted only when they are a real instant, spelled as toISOString spells it", () => {
    fc.assert(
      fc.property(calendarEdge, objectId, (published, manifest) => {
        const bytes = new TextEncoder().encode(JSON.stringify({ manifest, published }));
        const result = onlyFormatError(() => decodeRefUpdate(bytes));
        const canonical = new Date(Date.parse(published)).toISOString() === published;
        expect(!(result instanceof FormatError), published).toBe(canonical);
      }),
      { numRuns: FUZZ_RUNS, examples: [["2026-02-30T11:00:00.000Z", "0".repeat(64)]] },
    );
  });
});
