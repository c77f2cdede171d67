import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../../src/format/base64.js";
import { fromHex, sha256Hex, toHex } from "../../src/format/hex.js";

const text = (s: string) => new TextEncoder().encode(s);

describe("hex", () => {
  it("encodes lowercase, two digits a byte", () => {
    expect(toHex(new Uint8Array(0))).toBe("");
    expect(toHex(new Uint8Array([0, 1, 15, 16, 171, 255]))).toBe("00010f10abff");
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(toHex(all)).toHaveLength(512);
    expect(toHex(all)).toMatch(/^[0-9a-f]+$/);
  });

  it("decodes lowercase and uppercase", () => {
    expect(fromHex("")).toEqual(new Uint8Array(0));
    expect(fromHex("00010f10abff")).toEqual(new Uint8Array([0, 1, 15, 16, 171, 255]));
    expect(fromHex("00010F10ABFF")).toEqual(new Uint8Array([0, 1, 15, 16, 171, 255]));
  });

  it("round-trips random bytes", () => {
    for (const length of [1, 2, 31, 32, 33, 1000]) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      expect(fromHex(toHex(bytes))).toEqual(bytes);
    }
  });

  it("encodes a view into a larger buffer by its own bytes only", () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5]);
    expect(toHex(buffer.subarray(1, 3))).toBe("0203");
  });

  it("throws on odd length or non-hex digits", () => {
    for (const bad of ["0", "abc", "0g", "zz", " 00", "00 ", "0x00", "+1", "-1", "é0"]) {
      expect(() => fromHex(bad), bad).toThrow(TypeError);
    }
  });

  it("hashes with SHA-256 (FIPS 180-2 vectors)", async () => {
    expect(await sha256Hex(new Uint8Array(0))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(await sha256Hex(text("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(await sha256Hex(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("hashes only the bytes of a view", async () => {
    const buffer = text("xxabcxx");
    expect(await sha256Hex(buffer.subarray(2, 5))).toBe(await sha256Hex(text("abc")));
  });
});

describe("base64", () => {
  // RFC 4648 §10 test vectors.
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];

  it.each(vectors)("encodes and decodes %j as %j", (plain, encoded) => {
    expect(toBase64(text(plain))).toBe(encoded);
    expect(fromBase64(encoded)).toEqual(text(plain));
  });

  it("uses the standard alphabet with + and /", () => {
    expect(toBase64(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("+/+/");
    expect(fromBase64("+/+/")).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  it("round-trips every byte value and random lengths", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
    for (const length of [1, 2, 3, 31, 32, 33, 64, 65, 1000]) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      const encoded = toBase64(bytes);
      expect(encoded).toHaveLength(Math.ceil(length / 3) * 4);
      expect(fromBase64(encoded)).toEqual(bytes);
    }
  });

  it("refuses text that is not standard padded base64", () => {
    for (const bad of [
      "Zg",
      "Zg=",
      "Zm8",
      "Z",
      "Zg===",
      "=Zg=",
      "Zm9v\n",
      " Zm9v",
      "Zm 9v",
      "-_-_",
      "Zm9v*",
      "Zg==Zg==",
    ]) {
      expect(() => fromBase64(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
  });
});
