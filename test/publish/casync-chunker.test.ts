import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { casyncDiscriminator } from "../../src/publish/casync-chunker.js";
import { chunkBuffer, chunkStream, parseChunkingSpec } from "../../src/publish/chunker.js";
import { imageBytes } from "../cli/edge.js";

const run = promisify(execFile);

/** Chunk lengths of a blob index that casync made, read from its table. */
function caibxLengths(index: Buffer): number[] {
  const lengths: number[] = [];
  let previous = 0;
  for (let at = 64; at < index.byteLength - 40; at += 40) {
    const end = Number(index.readBigUInt64LE(at));
    lengths.push(end - previous);
    previous = end;
  }
  return lengths;
}

async function casyncCuts(data: Buffer, sizes: string): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), "edgeboot-casync-"));
  try {
    await writeFile(join(dir, "img"), data);
    await run(
      "casync",
      [
        "make",
        "--digest=sha256",
        `--chunk-size=${sizes}`,
        `--store=${join(dir, "store")}`,
        join(dir, "img.caibx"),
        join(dir, "img"),
      ],
      { timeout: 60_000 },
    );
    return caibxLengths(await readFile(join(dir, "img.caibx")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("casync chunking: casync's own buzhash chunker", () => {
  it("parses casync:MIN/AVG/MAX and takes an AVG that is not a power of two", () => {
    expect(parseChunkingSpec("casync:16K/64K/256K")).toEqual({
      kind: "casync",
      min: 16384,
      avg: 65536,
      max: 262144,
    });
    expect(parseChunkingSpec("CASYNC:2k/3k/9k")).toEqual({
      kind: "casync",
      min: 2048,
      avg: 3072,
      max: 9216,
    });
    expect(() => parseChunkingSpec("casync:64K/16K/256K")).toThrow(/MIN <= AVG <= MAX/);
  });

  it("derives casync's discriminator from AVG", () => {
    expect(casyncDiscriminator(16384, 65536, 262144)).toBe(
      Math.trunc(65536 / (-1.42888852e-7 * 65536 + 1.33237515)),
    );
    expect(casyncDiscriminator(100, 1000, 200)).toBe(200);
  });

  it.each([
    ["16384:65536:262144", "casync:16K/64K/256K"],
    ["4096:16384:65536", "casync:4K/16K/64K"],
    ["2048:5000:20000", "casync:2K/5000/20000"],
  ])("cuts exactly where `casync make --chunk-size=%s` cuts", async (sizes, spec) => {
    const data = Buffer.concat([
      imageBytes(1_500_000, 5),
      Buffer.alloc(300_000),
      imageBytes(700_000, 6),
    ]);
    const expected = await casyncCuts(data, sizes);
    const chunking = parseChunkingSpec(spec);
    expect(chunkBuffer(data, chunking)).toEqual(expected);
    const pieces = async function* () {
      for (let at = 0, n = 1; at < data.length; at += n, n = (n * 7919) % 100_003 || 1) {
        yield data.subarray(at, at + n);
      }
    };
    const streamed: number[] = [];
    for await (const chunk of chunkStream(pieces(), chunking)) streamed.push(chunk.byteLength);
    expect(streamed).toEqual(expected);
  });
});
