// bench/lib/latency.mjs: the offsets of the benchmarks' random reads, which the reports' figures
// depend on, are the same from run to run (the values its own mulberry32 gave before it took
// testing/random.mjs's).
import { describe, expect, it } from "vitest";
import { chunkIndexer, randomOffsets, stats } from "../../bench/lib/latency.mjs";

describe("randomOffsets", () => {
  it("gives the same 4 KiB-aligned offsets for a seed as it always has", () => {
    expect(randomOffsets(6, 64 * 2 ** 20)).toEqual([
      47648768, 19214336, 63877120, 6828032, 25391104, 43892736,
    ]);
    expect(randomOffsets(4, 256 * 2 ** 20 - 2 ** 21, 0xc0ffee)).toEqual([
      5627904, 177410048, 207732736, 196976640,
    ]);
  });
});

describe("chunkIndexer and stats", () => {
  it("finds the chunk holding a byte, and takes nearest-rank percentiles", () => {
    const chunkOf = chunkIndexer([10, 20, 30]);
    expect([0, 9, 10, 29, 30, 59].map(chunkOf)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(stats([5, 1, 4, 2, 3])).toEqual({ n: 5, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 });
  });
});
