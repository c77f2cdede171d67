import { describe, expect, it } from "vitest";
import { mebibytes, parseSize, sizeInBytes } from "../../src/lib/units.js";

describe("units", () => {
  it("parses sizes with 1024-based units, and nothing else", () => {
    expect(parseSize("8G")).toBe(8 * 1024 ** 3);
    expect(parseSize("500m")).toBe(500 * 1024 ** 2);
    expect(parseSize("64KiB")).toBe(65536);
    expect(parseSize(" 1048576 ")).toBe(1048576);
    expect(parseSize("1.5G")).toBeUndefined();
    expect(parseSize("8X")).toBeUndefined();
  });

  it("converts digits and a unit letter, NaN for another letter", () => {
    expect(sizeInBytes("256", "K")).toBe(262144);
    expect(sizeInBytes("3")).toBe(3);
    expect(sizeInBytes("1", "x")).toBeNaN();
  });

  it("shows MiB with one decimal", () => {
    expect(mebibytes(12.5 * 1048576)).toBe("12.5 MiB");
  });
});
