import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { IdFilter } from "../../src/publish/id-filter.js";

const id = (n: number) => createHash("sha256").update(`id ${n}`).digest("hex");

describe("IdFilter", () => {
  it("never misses an id it holds, and rarely claims one it does not", () => {
    const filter = new IdFilter();
    for (let n = 0; n < 200_000; n++) filter.add(id(n));
    for (let n = 0; n < 200_000; n += 97) expect(filter.has(id(n))).toBe(true);
    let wrong = 0;
    for (let n = 1_000_000; n < 1_100_000; n++) if (filter.has(id(n))) wrong++;
    expect(wrong).toBeLessThan(10);
    expect(filter.size).toBe(200_000);
  });
});
