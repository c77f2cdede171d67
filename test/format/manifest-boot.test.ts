/**
 * Boot files in a manifest: round trips, canonical bytes, allChunkIds, and the refusal of every
 * malformed boot document (each names the field at fault).
 */
import { describe, expect, it } from "vitest";
import {
  type BootFile,
  cmdlineProblem,
  MAX_BOOT_CMDLINE_BYTES,
} from "../../src/format/boot-files.js";
import {
  allChunkIds,
  decodeManifest,
  encodeManifest,
  type Manifest,
} from "../../src/format/manifest.js";
import {
  bytesOf,
  cdcManifest,
  decodeError,
  docOf,
  fixedManifest,
  ids,
  KiB,
} from "./manifest-fixtures.js";

/** A tampered manifest document: loosely typed on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: the tests reach into arbitrary JSON to break it
type Doc = Record<string, any>;

function bootFile(size: number, chunkSize: number, prefix: string): BootFile {
  const lengths: number[] = [];
  for (let left = size; left > 0; left -= chunkSize) lengths.push(Math.min(chunkSize, left));
  return {
    size,
    sha256: "e".repeat(64),
    chunk: chunkSize,
    chunks: ids(lengths.length, prefix),
    lengths,
  };
}

function bootable(extra: Partial<Manifest["boot"]> = {}): Manifest {
  return fixedManifest(10 * KiB, 4 * KiB, {
    boot: {
      cmdline: "console=ttyS0 net.ifnames=0",
      kernel: bootFile(9 * KiB, 4 * KiB, "1"),
      initrd: bootFile(4 * KiB, 4 * KiB, "2"),
      ...extra,
    },
  });
}

describe("boot files in a manifest", () => {
  it("round-trip, with and without an initrd, whatever the image's chunking", () => {
    const cdc = cdcManifest([20_000, 70_000], {
      boot: { cmdline: "", kernel: { ...bootFile(5, 5, "3"), lengths: [5] } },
    });
    for (const manifest of [bootable(), bootable({ initrd: undefined }), cdc]) {
      if (manifest.boot && !manifest.boot.initrd) delete manifest.boot.initrd;
      const bytes = encodeManifest(manifest);
      expect(decodeManifest(bytes)).toEqual(manifest);
      expect(encodeManifest(decodeManifest(bytes))).toEqual(bytes);
    }
  });

  it("are written in a fixed key order, after everything else", () => {
    const text = new TextDecoder().decode(encodeManifest(bootable()));
    expect(text).toMatch(
      /"chunks":\[[^\]]*\],"boot":\{"cmdline":"[^"]*","kernel":\{"size":9216,"sha256":"e{64}","chunk":4096,"lengths":\[\[4096,2\],\[1024,1\]\],"chunks":/,
    );
    expect(text.indexOf('"initrd"')).toBeGreaterThan(text.indexOf('"kernel"'));
  });

  it("name their chunks in allChunkIds after the image's", () => {
    const manifest = bootable();
    const boot = manifest.boot!;
    expect(allChunkIds(manifest)).toEqual([
      ...manifest.chunks,
      ...boot.kernel.chunks,
      ...boot.initrd!.chunks,
    ]);
    const plain = fixedManifest(10 * KiB, 4 * KiB);
    expect(allChunkIds(plain)).toBe(plain.chunks);
  });

  const refused: [string, (doc: Doc) => void, RegExp][] = [
    [
      "an unknown boot field",
      (d) => {
        d.boot.dtb = {};
      },
      /boot has an unknown field "dtb"/,
    ],
    [
      "no kernel",
      (d) => {
        delete d.boot.kernel;
      },
      /boot must name a kernel/,
    ],
    [
      "a cmdline that is not a string",
      (d) => {
        d.boot.cmdline = 1;
      },
      /boot.cmdline must be a string/,
    ],
    [
      "a cmdline with a newline",
      (d) => {
        d.boot.cmdline = "a\nb";
      },
      /printable ASCII/,
    ],
    [
      "a cmdline with $",
      (d) => {
        d.boot.cmdline = "x=$HOME";
      },
      /may not contain \$/,
    ],
    [
      "a cmdline setting an argument the edge writes",
      (d) => {
        d.boot.cmdline = "quiet edgeboot.edge=http://x";
      },
      /may not set edgeboot.edge: the edge writes it/,
    ],
    [
      "a cmdline too long",
      (d) => {
        d.boot.cmdline = "a".repeat(MAX_BOOT_CMDLINE_BYTES + 1);
      },
      /over 1024 bytes/,
    ],
    [
      "an unknown file field",
      (d) => {
        d.boot.kernel.mode = 1;
      },
      /boot.kernel has an unknown field "mode"/,
    ],
    [
      "an empty kernel",
      (d) => {
        d.boot.kernel.size = 0;
      },
      /boot.kernel.size must be between 1/,
    ],
    [
      "a bad file hash",
      (d) => {
        d.boot.initrd.sha256 = "E".repeat(64);
      },
      /boot.initrd.sha256 must be 64 lowercase hex/,
    ],
    [
      "a bad chunk id",
      (d) => {
        d.boot.kernel.chunks[1] = "x";
      },
      /boot.kernel chunk 1 is not 64 lowercase hex/,
    ],
    [
      "lengths that do not add up",
      (d) => {
        d.boot.kernel.size = 9 * KiB + 1;
      },
      /not the kernel size 9217/,
    ],
    [
      "a chunk over the chunking",
      (d) => {
        d.boot.initrd.lengths = [[8192, 1]];
        d.boot.initrd.size = 8192;
      },
      /over the chunking's 4096/,
    ],
    [
      "a short chunk that is not last",
      (d) => {
        d.boot.kernel.lengths = [
          [1024, 1],
          [4096, 2],
        ];
      },
      /only the last chunk may be shorter/,
    ],
    [
      "a chunk size of 0",
      (d) => {
        d.boot.kernel.chunk = 0;
      },
      /boot.kernel.chunk must be between 1 and/,
    ],
    [
      "a chunk size over the largest chunk",
      (d) => {
        d.boot.kernel.chunk = 8 * 1024 * 1024 + 1;
      },
      /boot.kernel.chunk must be between 1 and/,
    ],
    [
      "no chunk size",
      (d) => {
        delete d.boot.initrd.chunk;
      },
      /boot.initrd.chunk must be a non-negative integer/,
    ],
    [
      "boot that is not an object",
      (d) => {
        d.boot = [1];
      },
      /boot must be a JSON object/,
    ],
  ];
  for (const [what, tamper, message] of refused) {
    it(`refuse ${what}`, () => {
      const doc = docOf(bootable()) as Doc;
      tamper(doc);
      expect(decodeError(bytesOf(doc)).message).toMatch(message);
    });
  }

  it("cmdlineProblem refuses each argument the edge writes, and lets the initramfs's switches through", () => {
    for (const name of [
      "edgeboot.rootfs",
      "edgeboot.manifest",
      "edgeboot.published",
      "edgeboot.sig",
    ]) {
      expect(cmdlineProblem(`quiet ${name}=x`)).toMatch(`may not set ${name}`);
    }
    expect(cmdlineProblem("quiet edgeboot.onfail=shell edgeboot.cachelimit=2G")).toBeUndefined();
  });

  it("cmdlineProblem accepts what kernels are given every day", () => {
    expect(
      cmdlineProblem(
        "console=ttyS0,115200n8 root=/dev/nbd0 ro quiet systemd.unit=multi-user.target",
      ),
    ).toBeUndefined();
    expect(cmdlineProblem("")).toBeUndefined();
  });
});
