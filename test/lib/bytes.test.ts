import { describe, expect, it } from "vitest";
import { concatBytes } from "../../src/lib/bytes.js";

describe("concatBytes", () => {
  it("joins the parts in order", () => {
    const joined = concatBytes([Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)]);
    expect([...joined]).toEqual([1, 2, 3]);
  });

  it("returns a lone non-empty part itself, and an empty array for none", () => {
    const part = Uint8Array.of(7, 8);
    expect(concatBytes([new Uint8Array(0), part])).toBe(part);
    expect(concatBytes([]).byteLength).toBe(0);
  });
});
