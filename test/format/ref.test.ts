import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../../src/format/base64.js";
import { FormatSyntaxError } from "../../src/format/errors.js";
import { MAX_REF_BYTES, REF_HISTORY_LENGTH } from "../../src/format/limits.js";
import {
  decodeRef,
  decodeRefUpdate,
  encodeRef,
  encodeRefUpdate,
  nextHistory,
  type Ref,
  type RefUpdate,
  refSigningBytes,
  signRefUpdate,
  verifyRefSignature,
} from "../../src/format/ref.js";
import { formatError } from "../fixtures/format-error.js";

const NAME = "debian";
const PUBLISHED = "2026-11-26T11:00:00.000Z";

/** A well-formed manifest id whose last digits are `n`. */
function mid(n: number): string {
  return `${"a".repeat(56)}${n.toString(16).padStart(8, "0")}`;
}

const MANIFEST = mid(1);
const KEY = toBase64(new Uint8Array(32).fill(7));
const SIG = toBase64(new Uint8Array(64).fill(9));

function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as Promise<CryptoKeyPair>;
}

async function rawPublicKey(keys: CryptoKeyPair): Promise<Uint8Array> {
  return new Uint8Array((await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer);
}

function bytesOf(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

function ref(extra: Partial<Ref> = {}): Ref {
  return {
    name: NAME,
    manifest: MANIFEST,
    published: PUBLISHED,
    previous: [mid(2), mid(3)],
    ...extra,
  };
}

/** The JSON document of a ref, as a plain object to tamper with. */
function refDoc(extra: Partial<Ref> = {}): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(encodeRef(ref(extra)))) as Record<string, unknown>;
}

describe("encode and decode", () => {
  it("round-trips a ref, with and without a signature", () => {
    for (const value of [
      ref(),
      ref({ previous: [] }),
      ref({ signature: { key: KEY, sig: SIG } }),
      ref({ previous: Array.from({ length: REF_HISTORY_LENGTH }, (_, i) => mid(100 + i)) }),
    ]) {
      const bytes = encodeRef(value);
      const decoded = decodeRef(bytes);
      expect(decoded).toEqual(value);
      expect(encodeRef(decoded)).toEqual(bytes);
    }
  });

  it("writes the documented JSON", () => {
    const text = new TextDecoder().decode(encodeRef(ref({ signature: { key: KEY, sig: SIG } })));
    expect(text).toBe(
      `{"format":"edgeboot-ref","version":1,"name":"debian","manifest":"${MANIFEST}",` +
        `"published":"${PUBLISHED}","previous":["${mid(2)}","${mid(3)}"],` +
        `"signature":{"key":"${KEY}","sig":"${SIG}"}}`,
    );
  });

  it("gives the same bytes whatever the key insertion order", () => {
    const a = ref({ signature: { key: KEY, sig: SIG } });
    const b = {
      signature: { sig: SIG, key: KEY },
      previous: [...a.previous],
      published: PUBLISHED,
      manifest: MANIFEST,
      name: NAME,
    } as Ref;
    expect(encodeRef(b)).toEqual(encodeRef(a));
  });

  it("round-trips a ref update, with and without a signature", () => {
    for (const update of [
      { manifest: MANIFEST, published: PUBLISHED },
      { manifest: MANIFEST, published: PUBLISHED, signature: { key: KEY, sig: SIG } },
    ] satisfies RefUpdate[]) {
      const bytes = encodeRefUpdate(update);
      expect(decodeRefUpdate(bytes)).toEqual(update);
      expect(encodeRefUpdate(decodeRefUpdate(bytes))).toEqual(bytes);
    }
    expect(
      new TextDecoder().decode(encodeRefUpdate({ manifest: MANIFEST, published: PUBLISHED })),
    ).toBe(`{"manifest":"${MANIFEST}","published":"${PUBLISHED}"}`);
  });

  it("accepts a ref update that is not in canonical form (refs are not content-addressed)", () => {
    const text = `{ "published": "${PUBLISHED}",\n  "manifest": "${MANIFEST}" }`;
    expect(decodeRefUpdate(new TextEncoder().encode(text))).toEqual({
      manifest: MANIFEST,
      published: PUBLISHED,
    });
  });
});

describe("Ed25519 signatures", () => {
  it("signs exactly the documented text", () => {
    expect(new TextDecoder().decode(refSigningBytes(NAME, MANIFEST, PUBLISHED))).toBe(
      `edgeboot-ref-v1\ndebian\n${MANIFEST}\n${PUBLISHED}\n`,
    );
    expect(refSigningBytes("a", mid(0), PUBLISHED)).toEqual(
      new TextEncoder().encode(`edgeboot-ref-v1\na\n${mid(0)}\n${PUBLISHED}\n`),
    );
  });

  it("verifies a signature made with a generated key pair", async () => {
    const keys = await generateKeys();
    const raw = await rawPublicKey(keys);
    const update = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, keys);
    expect(update.manifest).toBe(MANIFEST);
    expect(update.published).toBe(PUBLISHED);
    expect(update.signature?.key).toBe(toBase64(raw));
    expect(fromBase64(update.signature?.sig ?? "")).toHaveLength(64);

    expect(await verifyRefSignature(NAME, update)).toBe(true);
    expect(await verifyRefSignature(NAME, update, raw)).toBe(true);
    expect(await verifyRefSignature(NAME, update, toBase64(raw))).toBe(true);

    // The signature is a plain Ed25519 signature over refSigningBytes.
    const sig = fromBase64(update.signature?.sig ?? "");
    const message = refSigningBytes(NAME, MANIFEST, PUBLISHED);
    expect(await crypto.subtle.verify({ name: "Ed25519" }, keys.publicKey, sig, message)).toBe(
      true,
    );
  });

  it("survives encoding and decoding, as an update and in a stored ref", async () => {
    const keys = await generateKeys();
    const raw = await rawPublicKey(keys);
    const update = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, keys);
    const decoded = decodeRefUpdate(encodeRefUpdate(update));
    expect(await verifyRefSignature(NAME, decoded, raw)).toBe(true);
    const stored = decodeRef(encodeRef({ name: NAME, previous: [], ...update }));
    expect(await verifyRefSignature(stored.name, stored, raw)).toBe(true);
  });

  it("refuses a signature by another key", async () => {
    const keys = await generateKeys();
    const other = await generateKeys();
    const otherRaw = await rawPublicKey(other);
    const update = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, keys);
    // Valid signature, but not by the pinned key.
    expect(await verifyRefSignature(NAME, update, otherRaw)).toBe(false);
    expect(await verifyRefSignature(NAME, update, toBase64(otherRaw))).toBe(false);
    // Signed by one key, claiming to be by the other.
    const forged: RefUpdate = {
      ...update,
      signature: { key: toBase64(otherRaw), sig: update.signature?.sig ?? "" },
    };
    expect(await verifyRefSignature(NAME, forged)).toBe(false);
    expect(await verifyRefSignature(NAME, forged, otherRaw)).toBe(false);
    // Signed by the other key over the same fields: valid, but only without the pin.
    const byOther = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, other);
    expect(await verifyRefSignature(NAME, byOther)).toBe(true);
    expect(await verifyRefSignature(NAME, byOther, await rawPublicKey(keys))).toBe(false);
  });

  it("refuses a tampered manifest, name, time or signature", async () => {
    const keys = await generateKeys();
    const raw = await rawPublicKey(keys);
    const update = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, keys);
    const signature = update.signature as NonNullable<RefUpdate["signature"]>;

    expect(await verifyRefSignature(NAME, { ...update, manifest: mid(2) }, raw)).toBe(false);
    expect(await verifyRefSignature("ubuntu", update, raw)).toBe(false);
    expect(await verifyRefSignature(`${NAME}x`, update, raw)).toBe(false);
    expect(
      await verifyRefSignature(NAME, { ...update, published: "2026-11-26T11:00:00.001Z" }, raw),
    ).toBe(false);

    const sig = fromBase64(signature.sig);
    for (const at of [0, 31, 32, 63]) {
      const flipped = sig.slice();
      flipped[at] = (flipped[at] as number) ^ 0x01;
      const tampered = { ...update, signature: { ...signature, sig: toBase64(flipped) } };
      expect(await verifyRefSignature(NAME, tampered, raw), `byte ${at}`).toBe(false);
      expect(await verifyRefSignature(NAME, tampered), `byte ${at}, unpinned`).toBe(false);
    }
    const zero = { ...update, signature: { ...signature, sig: toBase64(new Uint8Array(64)) } };
    expect(await verifyRefSignature(NAME, zero)).toBe(false);
    const short = { ...update, signature: { ...signature, sig: toBase64(sig.subarray(0, 63)) } };
    expect(await verifyRefSignature(NAME, short)).toBe(false);
  });

  it("refuses an unsigned update, pinned or not", async () => {
    const keys = await generateKeys();
    const unsigned = { manifest: MANIFEST, published: PUBLISHED };
    expect(await verifyRefSignature(NAME, unsigned)).toBe(false);
    expect(await verifyRefSignature(NAME, unsigned, await rawPublicKey(keys))).toBe(false);
  });

  it("refuses a key that is not a valid Ed25519 public key", async () => {
    const keys = await generateKeys();
    const update = await signRefUpdate(NAME, { manifest: MANIFEST, published: PUBLISHED }, keys);
    const signature = update.signature as NonNullable<RefUpdate["signature"]>;
    for (const key of [new Uint8Array(31), new Uint8Array(33)]) {
      const bad = { ...update, signature: { ...signature, key: toBase64(key) } };
      expect(await verifyRefSignature(NAME, bad)).toBe(false);
    }
  });
});

describe("nextHistory", () => {
  it("is empty for a new ref", () => {
    expect(nextHistory(undefined, mid(1))).toEqual([]);
  });

  it("puts the current manifest first", () => {
    const current = ref({ manifest: mid(3), previous: [mid(2), mid(1)] });
    expect(nextHistory(current, mid(4))).toEqual([mid(3), mid(2), mid(1)]);
  });

  it("drops the new manifest (a rollback) and keeps no duplicates", () => {
    const current = ref({ manifest: mid(3), previous: [mid(2), mid(1)] });
    expect(nextHistory(current, mid(2))).toEqual([mid(3), mid(1)]);
    expect(nextHistory(current, mid(3))).toEqual([mid(2), mid(1)]);
    const repeated = ref({ manifest: mid(1), previous: [mid(2), mid(1), mid(2), mid(3)] });
    expect(nextHistory(repeated, mid(9))).toEqual([mid(1), mid(2), mid(3)]);
  });

  it("keeps at most REF_HISTORY_LENGTH ids, the newest", () => {
    const previous = Array.from({ length: REF_HISTORY_LENGTH }, (_, i) => mid(100 - i));
    const current = ref({ manifest: mid(101), previous });
    const history = nextHistory(current, mid(102));
    expect(history).toHaveLength(REF_HISTORY_LENGTH);
    expect(history).toEqual([mid(101), ...previous.slice(0, REF_HISTORY_LENGTH - 1)]);
    expect(new Set(history).size).toBe(history.length);
    // The result is always storable.
    expect(decodeRef(encodeRef(ref({ manifest: mid(102), previous: history }))).previous).toEqual(
      history,
    );
  });

  it("does not modify the current ref", () => {
    const current = ref({ manifest: mid(3), previous: [mid(2), mid(1)] });
    const copy = structuredClone(current);
    nextHistory(current, mid(2));
    expect(current).toEqual(copy);
  });
});

describe("decode failures", () => {
  const update = (extra: Record<string, unknown>) =>
    bytesOf({ manifest: MANIFEST, published: PUBLISHED, ...extra });

  it("refuses a bad name, saying what is wrong", () => {
    for (const [name, message] of [
      ["Debian", /must start with a lowercase letter or a digit/],
      ["", /empty/],
      ["a".repeat(65), /65 characters long/],
      ["deb/ian", /may contain only/],
      ["../etc", /must start with/],
    ] as const) {
      const error = formatError(() => decodeRef(bytesOf({ ...refDoc(), name })));
      expect(error.message).toMatch(message);
      expect(error.field).toBe("name");
    }
    for (const name of [undefined, 5, null, ["debian"]]) {
      const error = formatError(() => decodeRef(bytesOf({ ...refDoc(), name })));
      expect(error.field).toBe("name");
    }
  });

  it("refuses a bad manifest id", () => {
    for (const manifest of [
      MANIFEST.toUpperCase(),
      MANIFEST.slice(1),
      `${MANIFEST}0`,
      1,
      undefined,
    ]) {
      let error = formatError(() => decodeRefUpdate(update({ manifest })));
      expect(error.message).toMatch(
        /ref manifest must be a manifest id \(64 lowercase hex digits\)/,
      );
      expect(error.field).toBe("manifest");
      error = formatError(() => decodeRef(bytesOf({ ...refDoc(), manifest })));
      expect(error.field).toBe("manifest");
    }
  });

  it("refuses a bad published time", () => {
    for (const published of [
      "2026-11-26T11:00:00Z",
      "2026-11-26T11:00:00.000+01:00",
      "2026-11-26",
      "2026-13-01T00:00:00.000Z",
      "2026-11-26T25:00:00.000Z",
      "yesterday",
      1_795_000_000_000,
      undefined,
    ]) {
      const error = formatError(() => decodeRefUpdate(update({ published })));
      expect(error.message).toMatch(/ref published must be an ISO 8601 UTC time/);
      expect(error.field).toBe("published");
    }
  });

  it("refuses a malformed signature", () => {
    const cases: unknown[] = [
      { key: toBase64(new Uint8Array(31)), sig: SIG },
      { key: toBase64(new Uint8Array(33)), sig: SIG },
      { key: KEY, sig: toBase64(new Uint8Array(63)) },
      { key: `${KEY.slice(0, -1)}*`, sig: SIG },
      { key: KEY.replace(/=+$/, ""), sig: SIG },
      { key: KEY },
      { sig: SIG },
      { key: KEY, sig: SIG, alg: "ed25519" },
      { key: 1, sig: SIG },
      `${KEY}.${SIG}`,
      [KEY, SIG],
      null,
    ];
    for (const signature of cases) {
      const error = formatError(() => decodeRefUpdate(update({ signature })));
      expect(error.message).toMatch(/32-byte Ed25519 public key/);
      expect(error.field).toBe("signature");
    }
  });

  it("refuses unknown fields, naming them", () => {
    let error = formatError(() => decodeRefUpdate(update({ name: NAME })));
    expect(error.message).toMatch(/unknown field "name"/);
    expect(error.field).toBe("name");
    error = formatError(() => decodeRef(bytesOf({ ...refDoc(), comment: "x" })));
    expect(error.message).toMatch(/unknown field "comment"/);
    expect(error.field).toBe("comment");
  });

  it("refuses a stored ref with the wrong format or version", () => {
    for (const extra of [{ format: "edgeboot-manifest" }, { version: 2 }, { format: undefined }]) {
      const error = formatError(() => decodeRef(bytesOf({ ...refDoc(), ...extra })));
      expect(error.message).toMatch(/not an edgeboot-ref version 1 document/);
    }
  });

  it("refuses a bad history", () => {
    const tooLong = Array.from({ length: REF_HISTORY_LENGTH + 1 }, (_, i) => mid(i + 10));
    for (const previous of [tooLong, [MANIFEST.toUpperCase()], "x", undefined]) {
      const error = formatError(() => decodeRef(bytesOf({ ...refDoc(), previous })));
      expect(error.message).toMatch(/previous must be a list of at most 16 manifest ids/);
      expect(error.field).toBe("previous");
    }
  });

  it("refuses a body larger than MAX_REF_BYTES before parsing it", () => {
    const padding = " ".repeat(MAX_REF_BYTES);
    const big = new TextEncoder().encode(
      `{"manifest":"${MANIFEST}","published":"${PUBLISHED}"}${padding}`,
    );
    expect(big.byteLength).toBeGreaterThan(MAX_REF_BYTES);
    for (const decode of [decodeRefUpdate, decodeRef]) {
      const error = formatError(() => decode(big));
      expect(error).not.toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/larger than 16384 bytes/);
    }
    // Exactly at the limit is fine.
    const body = update({});
    const atLimit = new Uint8Array(MAX_REF_BYTES).fill(0x20);
    atLimit.set(body);
    expect(decodeRefUpdate(atLimit)).toEqual({ manifest: MANIFEST, published: PUBLISHED });
  });

  it("throws a FormatSyntaxError for bytes that are not JSON or not UTF-8", () => {
    for (const bytes of [
      new TextEncoder().encode(""),
      new TextEncoder().encode("{"),
      new TextEncoder().encode("manifest=abc"),
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    ]) {
      const error = formatError(() => decodeRefUpdate(bytes));
      expect(error).toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/ref update is not valid UTF-8 JSON/);
      expect(formatError(() => decodeRef(bytes))).toBeInstanceOf(FormatSyntaxError);
    }
  });

  it("refuses JSON that is not an object", () => {
    for (const value of [[], "x", 1, null]) {
      const error = formatError(() => decodeRefUpdate(bytesOf(value)));
      expect(error).not.toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/ref update must be a JSON object/);
    }
  });
});
