import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/format/hex.js";
import { sha256HexNative } from "../../src/lib/sha256-native.js";

describe("sha256HexNative", () => {
  it("spells the digest as WebCrypto's sha256Hex does", async () => {
    const bytes = new TextEncoder().encode("abc");
    expect(sha256HexNative(bytes)).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const large = new Uint8Array(1 << 20).map((_, i) => i * 7);
    expect(sha256HexNative(large)).toBe(await sha256Hex(large));
    expect(sha256HexNative("abc")).toBe(sha256HexNative(bytes));
  });
});
