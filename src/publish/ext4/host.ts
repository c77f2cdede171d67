import { execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { requireTool } from "../initramfs/host-files.js";
import { ImageError } from "./errors.js";

/** The host programs an ext4 image is made with, and the Debian package of each. */
export const EXT4_TOOLS = {
  mke2fs: { name: "mke2fs", debianPackage: "e2fsprogs" },
  debugfs: { name: "debugfs", debianPackage: "e2fsprogs" },
  dumpe2fs: { name: "dumpe2fs", debianPackage: "e2fsprogs" },
  e2fsck: { name: "e2fsck", debianPackage: "e2fsprogs" },
  resize2fs: { name: "resize2fs", debianPackage: "e2fsprogs" },
  rsync: { name: "rsync", debianPackage: "rsync" },
  mount: { name: "mount", debianPackage: "mount" },
  umount: { name: "umount", debianPackage: "mount" },
  fuse2fs: { name: "fuse2fs", debianPackage: "fuse2fs" },
  fusermount: { name: "fusermount", debianPackage: "fuse3" },
} as const;

/** A host program's exit code and output. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of EXT4_TOOLS (found on PATH or in the sbin directories) to its end with `env` added to
 * the environment; never rejects for a non-zero exit, the caller reads `code`.
 */
export function runTool(
  tool: keyof typeof EXT4_TOOLS,
  args: string[],
  env: Record<string, string> = {},
): Promise<ToolRun> {
  const file = requireTool(EXT4_TOOLS[tool]);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (error && code === -1) reject(error);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The last meaningful line of a tool's output, for an error message. */
export function lastLine(result: ToolRun): string {
  const lines = `${result.stderr}\n${result.stdout}`
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !/^(mke2fs|e2fsck|resize2fs|debugfs|dumpe2fs) \d/.test(line));
  return lines.at(-1) ?? `exit code ${result.code}`;
}

/** What an image's ext2/3/4 superblock says about its size. */
export interface Ext4Geometry {
  blockSize: number;
  blocks: number;
}

const EXT4_MAGIC = 0xef53;
const INCOMPAT_64BIT = 0x80;

/**
 * Reads the superblock at byte 1024 of `image`; throws an ImageError when there is none (the file
 * is not an ext2/3/4 image).
 */
export async function readExt4Geometry(image: string): Promise<Ext4Geometry> {
  const sb = Buffer.alloc(1024);
  const file = await open(image, "r").catch((error: NodeJS.ErrnoException) => {
    throw new ImageError(
      `cannot read the base image ${image} (${error.code}): give the image the previous version was built into`,
    );
  });
  try {
    await file.read(sb, 0, 1024, 1024);
  } finally {
    await file.close();
  }
  if (sb.readUInt16LE(56) !== EXT4_MAGIC) {
    throw new ImageError(
      `${image} is not an ext4 image (no ext2/3/4 superblock): give an image edgeboot image wrote, or leave --base out for a fresh build`,
    );
  }
  const blockSize = 1024 << sb.readUInt32LE(24);
  const high = sb.readUInt32LE(96) & INCOMPAT_64BIT ? sb.readUInt32LE(0x150) : 0;
  return { blockSize, blocks: high * 2 ** 32 + sb.readUInt32LE(4) };
}

/**
 * The inode numbers in use in an image (from dumpe2fs's free ranges per group), without the
 * reserved ones below the first ordinary inode but with the root directory (2).
 */
export async function usedInodes(image: string): Promise<number[]> {
  const dumped = await runTool("dumpe2fs", [image]);
  if (dumped.code !== 0) throw new ImageError(`dumpe2fs ${image}: ${lastLine(dumped)}`);
  const perGroup = Number(/^Inodes per group:\s+(\d+)/m.exec(dumped.stdout)?.[1]);
  const firstInode = Number(/^First inode:\s+(\d+)/m.exec(dumped.stdout)?.[1] ?? 11);
  const groups = [...dumped.stdout.matchAll(/^ +Free inodes: ?(.*)$/gm)].map((m) => m[1] ?? "");
  if (!(perGroup > 0) || groups.length === 0) {
    throw new ImageError(`dumpe2fs ${image}: no inode bitmap in its output`);
  }
  const used = [2];
  groups.forEach((ranges, group) => {
    const free = new Set<number>();
    for (const range of ranges.split(",").map((r) => r.trim())) {
      if (!range) continue;
      const [from, to = from] = range.split("-").map(Number) as [number, number?];
      for (let inode = from; inode <= to; inode++) free.add(inode);
    }
    const first = group * perGroup + 1;
    for (let inode = Math.max(first, firstInode); inode < first + perGroup; inode++) {
      if (!free.has(inode)) used.push(inode);
    }
  });
  return used;
}

/** What `e2fsck -fn` found: the filesystem's use and how many files are in more than one piece. */
export interface FsckSummary {
  files: number;
  nonContiguousPercent: number;
  usedBlocks: number;
  blocks: number;
}

/**
 * Checks `image` read-only with `e2fsck -fn`; throws an ImageError when it has errors
 * (what = the image's role in the message).
 */
export async function checkImage(image: string, what: string): Promise<FsckSummary> {
  const checked = await runTool("e2fsck", ["-fn", image]);
  const line = /(\d+)\/\d+ files \(([\d.]+)% non-contiguous\), (\d+)\/(\d+) blocks/.exec(
    checked.stdout,
  );
  if (checked.code >= 4 || !line) {
    throw new ImageError(
      `${what} ${image} has filesystem errors (e2fsck: ${lastLine(checked)}): repair it with e2fsck -f, or build fresh without --base`,
    );
  }
  return {
    files: Number(line[1]),
    nonContiguousPercent: Number(line[2]),
    usedBlocks: Number(line[3]),
    blocks: Number(line[4]),
  };
}
