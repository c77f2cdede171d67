import { describe, expect, it } from "vitest";
import { chunkOffsets } from "../../src/format/manifest.js";
import { parseBootProfile, prefetchFromReads } from "../../src/format/profile.js";

const ID = "a".repeat(64);

describe("boot profiles", () => {
  it("maps recorded reads to chunk indexes, first-read order, each once", () => {
    const offsets = chunkOffsets({ lengths: [100, 100, 100, 100, 50] });
    expect(
      prefetchFromReads(
        [
          [300, 100],
          [0, 100],
          [310, 5],
          [150, 100],
          [440, 100],
          [10_000, 10],
        ],
        offsets,
      ),
    ).toEqual([3, 0, 1, 2, 4]);
    expect(prefetchFromReads([], offsets)).toEqual([]);
    expect(prefetchFromReads([[0, 1]], chunkOffsets({ lengths: [] }))).toEqual([]);
  });

  it("carries a profile over to a new version cut differently: the chunks covering the same bytes", () => {
    const v2 = chunkOffsets({ lengths: [64, 200, 64, 122] });
    expect(prefetchFromReads([[300, 100]], v2)).toEqual([2, 3]);
  });

  it("parses what the recorder writes and refuses anything else with a reason", () => {
    const good = {
      format: "edgeboot-boot-profile",
      version: 1,
      images: [{ name: "alpha", manifest: ID, reads: [[0, 10]] }],
    };
    expect(parseBootProfile(JSON.stringify(good)).images[0]?.reads).toEqual([[0, 10]]);
    const bad: [unknown, RegExp][] = [
      ["not json", /must be JSON/],
      [{ format: "other", version: 1, images: [] }, /not an edgeboot boot profile/],
      [{ ...good, images: "x" }, /lists its images/],
      [
        { ...good, images: [{ name: "../x", manifest: ID, reads: [] }] },
        /rootfs name and a manifest id/,
      ],
      [
        { ...good, images: [{ name: "a", manifest: ID, reads: [[0, 0]] }] },
        /not \[offset, length\]/,
      ],
      [
        { ...good, images: [{ name: "a", manifest: ID, reads: [[-1, 5]] }] },
        /not \[offset, length\]/,
      ],
      [
        { ...good, images: [{ name: "a", manifest: ID, reads: [["0", 5]] }] },
        /not \[offset, length\]/,
      ],
    ];
    for (const [doc, message] of bad) {
      expect(() => parseBootProfile(typeof doc === "string" ? doc : JSON.stringify(doc))).toThrow(
        message,
      );
    }
  });
});
