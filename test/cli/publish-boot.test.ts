import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EDGE_API, type RootfsListing } from "../../src/format/api.js";
import { BOOT_FILE_CHUNK_BYTES } from "../../src/format/boot-files.js";
import type { RootfsSummary } from "../../src/format/ref.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import {
  imageBytes,
  runCli,
  runPublish,
  servedManifest,
  startEdge,
  useEdgeAndDir,
} from "./edge.js";

const fixture = useEdgeAndDir();
const CHUNK = 65536;

function publish(image: string, name: string, ...extra: string[]) {
  return runPublish(fixture.edge, image, name, "--chunking", "fixed:64K", ...extra);
}

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(fixture.dir, name);
  await writeFile(path, bytes);
  return path;
}

function newChunks(stdout: string): number {
  const match = /new\s+(\d+) chunks/.exec(stdout);
  if (!match) throw new Error(`no summary in: ${stdout}`);
  return Number(match[1]);
}

/** The ids of `bytes` cut into chunks of `size` bytes (64 KiB by default), and their lengths. */
function chunksOf(bytes: Uint8Array, size = CHUNK): { chunks: string[]; lengths: number[] } {
  const chunks: string[] = [];
  const lengths: number[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size);
    chunks.push(digest(piece));
    lengths.push(piece.length);
  }
  return { chunks, lengths };
}

const currentManifest = (name: string) => servedManifest(fixture.edge.url, name);

async function refText(name: string): Promise<string> {
  return (await fetch(`${fixture.edge.url}${EDGE_API.ref.path(name)}`)).text();
}

async function rootfsList(): Promise<RootfsSummary[]> {
  const url = `${fixture.edge.url}${EDGE_API.rootfsList.path()}`;
  return ((await (await fetch(url)).json()) as RootfsListing).rootfs;
}

async function storedChunks(): Promise<number> {
  const bucket = await fixture.edge.mf.getR2Bucket("CHUNKS");
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "chunks/", cursor });
    count += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return count;
}

describe("edgeboot publish --kernel --initrd --cmdline", () => {
  const image = imageBytes(3 * CHUNK + 500, 31);
  // Boot files are cut in 4 MiB chunks whatever the image's chunking: the kernel makes two, and
  // the initramfs repeats the kernel's first, which is deduplicated.
  const kernel = imageBytes(BOOT_FILE_CHUNK_BYTES + 777, 32);
  const initrd = Buffer.concat([
    kernel.subarray(0, BOOT_FILE_CHUNK_BYTES),
    imageBytes(CHUNK / 2, 33),
  ]);
  const cmdline = "console=ttyS0 net.ifnames=0 quiet";

  it("names the boot files in the manifest, uploads each chunk once, and the edge lists the rootfs as bootable", async () => {
    const run = await publish(
      await file("boot.img", image),
      "bootable",
      "--kernel",
      await file("vmlinuz", kernel),
      "--initrd",
      await file("initrd.img", initrd),
      "--cmdline",
      cmdline,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(newChunks(run.stdout)).toBe(4 + 2 + 1);
    expect(run.stdout).toMatch(/^ {2}chunks\s+8 .*, 7 distinct$/m);
    expect(run.stdout).toMatch(
      /^ {2}boot\s+bootable: kernel .*\(2 chunks\), initrd .*\(2 chunks\), cmdline "console=ttyS0 net.ifnames=0 quiet"$/m,
    );

    const { manifest } = await currentManifest("bootable");
    expect(manifest.chunks).toEqual(chunksOf(image).chunks);
    expect(manifest.boot).toEqual({
      cmdline,
      kernel: {
        size: kernel.length,
        sha256: digest(kernel),
        chunk: BOOT_FILE_CHUNK_BYTES,
        ...chunksOf(kernel, BOOT_FILE_CHUNK_BYTES),
      },
      initrd: {
        size: initrd.length,
        sha256: digest(initrd),
        chunk: BOOT_FILE_CHUNK_BYTES,
        ...chunksOf(initrd, BOOT_FILE_CHUNK_BYTES),
      },
    });
    expect(manifest.boot?.initrd?.chunks[0]).toBe(manifest.boot?.kernel.chunks[0]);

    const plain = await publish(await file("plain.img", imageBytes(CHUNK, 34)), "plain");
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^ {2}boot\s+not bootable/m);
    const listed = await rootfsList();
    expect(listed.find((r) => r.name === "bootable")?.bootable).toBe(true);
    expect(listed.find((r) => r.name === "plain")?.bootable).toBe(false);
  });

  it("uploads nothing when the same image and boot files are published again", async () => {
    const before = await storedChunks();
    const run = await publish(
      join(fixture.dir, "boot.img"),
      "bootable",
      "--kernel",
      join(fixture.dir, "vmlinuz"),
      "--initrd",
      join(fixture.dir, "initrd.img"),
      "--cmdline",
      cmdline,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(newChunks(run.stdout)).toBe(0);
    expect(run.stdout).toMatch(/reused\s+8 chunks/);
    expect(await storedChunks()).toBe(before);
  });

  it("is served back by the edge byte for byte, by rootfs name and by manifest id", async () => {
    const { id } = await currentManifest("bootable");
    for (const [kind, bytes] of [
      ["kernel", kernel],
      ["initrd", initrd],
    ] as const) {
      for (const path of [
        EDGE_API.rootfsBootFile.path("bootable", kind),
        EDGE_API.manifestBootFile.path(id, kind),
      ]) {
        const answer = await fetch(`${fixture.edge.url}${path}`);
        expect(answer.status, path).toBe(200);
        expect(digest(new Uint8Array(await answer.arrayBuffer())), path).toBe(digest(bytes));
      }
    }
  });

  it("shows which rootfs are bootable in edgeboot ls", async () => {
    const run = await runCli([
      "ls",
      fixture.edge.url,
      "--cache-dir",
      join(fixture.dir, "ls-cache"),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const column = (lines[0] ?? "").indexOf("BOOTABLE");
    expect(column).toBeGreaterThan(0);
    const cell = (name: string) =>
      lines
        .find((line) => line.startsWith(`${name} `))
        ?.slice(column)
        .split(" ")[0];
    expect(cell("bootable")).toBe("yes");
    expect(cell("plain")).toBe("no");
  });
});

interface Paths {
  image: string;
  kernel: string;
  empty: string;
  dir: string;
}

describe("edgeboot publish refuses bad boot files and changes nothing at the edge", () => {
  const kernel = imageBytes(CHUNK, 42);
  const paths = {} as Paths;

  // A rootfs "refused" already published, and an image whose chunks the edge does not hold.
  beforeAll(async () => {
    const first = await publish(await file("refused-v1.img", imageBytes(CHUNK, 40)), "refused");
    expect(first.code, first.stderr).toBe(0);
    paths.dir = join(fixture.dir, "a-directory");
    await mkdir(paths.dir, { recursive: true });
    paths.image = await file("refused-v2.img", imageBytes(2 * CHUNK, 41));
    paths.kernel = await file("refused-vmlinuz", kernel);
    paths.empty = await file("empty-vmlinuz", new Uint8Array(0));
  });

  const cases: [string, (paths: Paths) => string[], RegExp][] = [
    ["--initrd without --kernel", (p) => ["--initrd", p.kernel], /--initrd needs --kernel/],
    ["--cmdline without --kernel", () => ["--cmdline", "quiet"], /--cmdline needs --kernel/],
    ["a missing kernel", (p) => ["--kernel", `${p.kernel}.gone`], /no kernel at .*--kernel path/],
    [
      "a missing initrd",
      (p) => ["--kernel", p.kernel, "--initrd", `${p.kernel}.gone`],
      /no initrd at/,
    ],
    ["an empty kernel", (p) => ["--kernel", p.empty], /the kernel .* is empty/],
    ["a directory as kernel", (p) => ["--kernel", p.dir], /is a directory: give the kernel file/],
    ["a device as kernel", () => ["--kernel", "/dev/null"], /\/dev\/null is not a regular file/],
    [
      "a directory as initrd",
      (p) => ["--kernel", p.kernel, "--initrd", p.dir],
      /is a directory: give the initrd file/,
    ],
    [
      "a cmdline with $",
      (p) => ["--kernel", p.kernel, "--cmdline", "root=$x"],
      /bad --cmdline: .* \$/,
    ],
    [
      "a cmdline setting an argument the edge writes",
      (p) => ["--kernel", p.kernel, "--cmdline", "quiet edgeboot.sig=AAAA"],
      /bad --cmdline: .*may not set edgeboot\.sig/,
    ],
    [
      "a cmdline with a newline",
      (p) => ["--kernel", p.kernel, "--cmdline", "quiet\ninit=/bin/sh"],
      /bad --cmdline: .*printable ASCII/,
    ],
    [
      "a cmdline over 1024 bytes",
      (p) => ["--kernel", p.kernel, "--cmdline", "a".repeat(1025)],
      /bad --cmdline: .*over 1024 bytes/,
    ],
  ];

  it.each(cases)("%s", async (_, args, message) => {
    const before = await refText("refused");
    const chunks = await storedChunks();
    const run = await publish(paths.image, "refused", ...args(paths));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^edgeboot: [^\n]+\n$/);
    expect(run.stderr).toMatch(message);
    expect(await refText("refused")).toBe(before);
    expect(await storedChunks()).toBe(chunks);
  });

  it.skipIf(process.getuid?.() === 0)("an unreadable kernel", async () => {
    const locked = await file("locked-vmlinuz", kernel);
    await chmod(locked, 0o000);
    const run = await publish(paths.image, "refused", "--kernel", locked);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^edgeboot: cannot read the kernel .*\(EACCES\)/);
  });
});

describe("boot files an edge cannot serve in one response", () => {
  it("are refused before anything is uploaded, saying how big they may be and what to raise", async () => {
    // The smallest budget the edge takes, 16: (16 - 3) / 3 = 4 chunks per response, so a kernel
    // of five 4 MiB chunks does not fit.
    const small = await startEdge("small-budget-token", { REQUEST_OPERATION_BUDGET: "16" });
    try {
      const image = await file("fit.img", imageBytes(CHUNK, 41));
      const kernel = await file("big-vmlinuz", imageBytes(4 * BOOT_FILE_CHUNK_BYTES + 1, 42));
      const run = await runPublish(small, image, "toobig", "--kernel", kernel);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^edgeboot: the kernel .* is 16\.0 MiB, 5 chunks of 4\.0 MiB, and this edge serves at most 4 chunks in one response, .*at most 16\.0 MiB.*REQUEST_OPERATION_BUDGET/,
      );
      const bucket = await small.mf.getR2Bucket("CHUNKS");
      expect((await bucket.list({ prefix: "chunks/" })).objects).toHaveLength(0);
      const fits = await file("fit-vmlinuz", imageBytes(4 * BOOT_FILE_CHUNK_BYTES, 43));
      const ok = await runPublish(small, image, "toobig", "--kernel", fits);
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await small.close();
    }
  });
});
