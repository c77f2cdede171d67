import { constants } from "node:fs";
import { copyFile, rename, rm, stat, statfs, truncate, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { sha256HexNative } from "../../lib/sha256-native.js";
import { mebibytes } from "../../lib/units.js";
import { ImageError } from "./errors.js";
import {
  checkImage,
  type FsckSummary,
  lastLine,
  readExt4Geometry,
  runTool,
  usedInodes,
} from "./host.js";
import { type MountMethod, type SyncStats, syncTreeInto } from "./sync.js";
import { measureTree, type TreeSize } from "./tree-size.js";

const MiB = 1024 * 1024;

/**
 * A fresh image is the tree's blocks plus a quarter plus 64 MiB, rounded up to 64 MiB: room for
 * metadata and for the next versions to be written into it (--base) before it must grow.
 */
export function freshImageSize(treeBytes: number): number {
  const treeMiB = Math.ceil(treeBytes / MiB);
  return Math.ceil((treeMiB * 1.25 + 64) / 64) * 64 * MiB;
}

/**
 * The fragmentation rule of `--base`: when at least this share of the image's files (in percent,
 * e2fsck's "non-contiguous" figure) is in more than one piece, a fresh build is worth its one
 * large update. A fresh build has next to none.
 */
export const FRAGMENTED_FILES_PERCENT = 10;

/** What to build. */
export interface Ext4ImageOptions {
  /** The directory tree that becomes the filesystem. */
  tree: string;
  /** Where the image is written (atomically: a partial file, then a rename). */
  output: string;
  /** The previous version's image: the new one starts as its copy and the tree is synced in. */
  base?: string;
  /** The image's size in bytes; default freshImageSize of the tree (with --base: at least). */
  size?: number;
  /** Filesystem label (up to 16 bytes); also seeds the default UUID. */
  label?: string;
  /** Filesystem UUID and directory hash seed; default derived from the label. */
  uuid?: string;
  /** Seconds since 1970 for every time the image would otherwise take from the clock. */
  epoch: number;
  /** How a --base image is mounted to be written. */
  mount?: MountMethod;
  /** Called as each step begins (for a progress line). */
  onStep?: (text: string) => void;
}

/** A written image. */
export interface Ext4Image {
  path: string;
  bytes: number;
  tree: TreeSize;
  fsck: FsckSummary;
  /** Set for a --base build: what was synced, and the size it was grown from when it grew. */
  update?: SyncStats & { grownFrom?: number };
  /** Lines to show the user: when a fresh build would be worthwhile. */
  warnings: string[];
}

/**
 * Makes an ext4 image of `tree`. Without a base it is reproducible: `mke2fs -d` with the UUID,
 * hash seed and clock pinned, then every inode's access and change times pinned with debugfs (mke2fs
 * copies them from the tree, where reading moves them), so the same tree gives the same bytes.
 * With a base, the tree is written into a copy of it (grown first when the tree needs more room),
 * so files that did not change keep their blocks and an update moves only what changed.
 */
export async function buildExt4Image(options: Ext4ImageOptions): Promise<Ext4Image> {
  const step = options.onStep ?? (() => {});
  const env = {
    E2FSPROGS_FAKE_TIME: String(options.epoch),
    SOURCE_DATE_EPOCH: String(options.epoch),
  };
  if (options.label !== undefined && Buffer.byteLength(options.label) > 16) {
    throw new ImageError(`--label ${options.label}: an ext4 label is at most 16 bytes`);
  }
  if (options.uuid !== undefined && !UUID.test(options.uuid)) {
    throw new ImageError(
      `--uuid ${options.uuid}: give a UUID like 01234567-89ab-4cde-8f01-23456789abcd`,
    );
  }
  step("measuring the tree");
  const tree = await measureTree(options.tree);
  const partial = `${options.output}.partial-${process.pid}`;
  await rm(partial, { force: true });
  try {
    let update: Ext4Image["update"];
    if (options.base !== undefined) {
      update = await syncedCopy({ ...options, base: options.base }, tree, partial, env, step);
    } else {
      await freshImage(options, tree, partial, env, step);
    }
    step("checking the filesystem");
    const fsck = await checkImage(partial, "the new image");
    const bytes = (await stat(partial)).size;
    await rename(partial, options.output);
    const warnings = update ? fragmentationWarnings(fsck, bytes, tree) : [];
    return { path: options.output, bytes, tree, fsck, update, warnings };
  } finally {
    await rm(partial, { force: true });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A UUID (version 4 in form) derived from `seed`: the same seed, the same UUID (the algorithm of
 * scripts/boot/tools.mjs's stableUuid, so images made before keep theirs).
 */
export function stableUuid(seed: string): string {
  const hex = sha256HexNative(seed);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

async function freshImage(
  options: Ext4ImageOptions,
  tree: TreeSize,
  partial: string,
  env: Record<string, string>,
  step: (text: string) => void,
): Promise<void> {
  const size = roundToBlock(options.size ?? freshImageSize(tree.bytes));
  if (size < tree.bytes) throw tooSmall(tree, size);
  await needDisk(partial, tree.bytes + 64 * MiB);
  const uuid = options.uuid ?? stableUuid(`edgeboot-image:${options.label ?? ""}`);
  step(`mke2fs -d (${mebibytes(tree.bytes)} of files, ${mebibytes(size)} image)`);
  const made = await runTool(
    "mke2fs",
    [
      ...["-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-O", "^has_journal"],
      ...(options.label !== undefined ? ["-L", options.label] : []),
      ...["-U", uuid, "-E", `hash_seed=${uuid},lazy_itable_init=0,lazy_journal_init=0`],
      ...["-d", options.tree, partial, `${size / 1024}k`],
    ],
    env,
  );
  if (made.code !== 0) {
    const why = lastLine(made);
    if (/No space left|Could not allocate|No free space|Could not allocate inode/i.test(why)) {
      await needDisk(partial, 0);
      throw tooSmall(tree, size);
    }
    throw new ImageError(`mke2fs could not make the image: ${why}`);
  }
  step("pinning access and change times");
  const epoch = `@${options.epoch}`;
  const script = (await usedInodes(partial))
    .flatMap((inode) => [`sif <${inode}> ctime ${epoch}`, `sif <${inode}> atime ${epoch}`])
    .join("\n");
  const scriptFile = `${partial}.debugfs`;
  await writeFile(scriptFile, `${script}\n`);
  try {
    const pinned = await runTool("debugfs", ["-w", "-f", scriptFile, partial], env);
    const refused = pinned.stderr.split("\n").find((line) => line && !line.startsWith("debugfs "));
    if (pinned.code !== 0 || refused) {
      throw new ImageError(
        `debugfs could not pin the image's times: ${refused ?? lastLine(pinned)}`,
      );
    }
  } finally {
    await rm(scriptFile, { force: true });
  }
}

async function syncedCopy(
  options: Ext4ImageOptions & { base: string },
  tree: TreeSize,
  partial: string,
  env: Record<string, string>,
  step: (text: string) => void,
): Promise<SyncStats & { grownFrom?: number }> {
  const geometry = await readExt4Geometry(options.base);
  const baseBytes = geometry.blocks * geometry.blockSize;
  const wanted = roundToBlock(options.size ?? freshImageSize(tree.bytes));
  if (options.size !== undefined && wanted < baseBytes) {
    throw new ImageError(
      `--size ${mebibytes(wanted)} is smaller than the base image (${mebibytes(baseBytes)}): an image built on a base only grows; leave --base out to build a smaller one fresh`,
    );
  }
  step("checking the base image");
  await checkImage(options.base, "the base image");
  step(`copying ${options.base}`);
  await needDisk(partial, (await stat(options.base)).blocks * 512);
  await copyFile(options.base, partial, constants.COPYFILE_FICLONE).catch(diskFull(partial));
  let grownFrom: number | undefined;
  if (wanted > baseBytes) {
    step(`growing the filesystem from ${mebibytes(baseBytes)} to ${mebibytes(wanted)}`);
    await truncate(partial, wanted);
    const grown = await runTool("resize2fs", ["-f", partial, `${wanted / 1024}K`], env);
    if (grown.code !== 0) {
      throw new ImageError(`resize2fs could not grow the image: ${lastLine(grown)}`);
    }
    grownFrom = baseBytes;
  }
  step(`writing the tree into the image (rsync --inplace)`);
  const synced = await syncTreeInto(partial, options.tree, options.mount ?? "auto");
  return { ...synced, grownFrom };
}

function fragmentationWarnings(fsck: FsckSummary, bytes: number, tree: TreeSize): string[] {
  const warnings: string[] = [];
  if (fsck.nonContiguousPercent >= FRAGMENTED_FILES_PERCENT) {
    warnings.push(
      `${fsck.nonContiguousPercent}% of the image's files are in more than one piece (a fresh build has about none): build it fresh (without --base) now and then; that one update moves most of the image`,
    );
  }
  const fresh = freshImageSize(tree.bytes);
  if (bytes > 2 * fresh) {
    warnings.push(
      `the image is ${mebibytes(bytes)} where a fresh build of this tree needs ${mebibytes(fresh)}: build it fresh (without --base) to shrink it`,
    );
  }
  return warnings;
}

function tooSmall(tree: TreeSize, size: number): ImageError {
  return new ImageError(
    `the tree (${mebibytes(tree.bytes)} in ${tree.entries} entries) does not fit in an image of ${mebibytes(size)}: give a larger --size, or leave it out to size the image from the tree`,
  );
}

/** Throws an ImageError when the disk that will hold `path` has less than `bytes` free. */
async function needDisk(path: string, bytes: number): Promise<void> {
  const disk = await statfs(dirname(path));
  const free = disk.bavail * disk.bsize;
  if (free < Math.max(bytes, 1)) {
    throw new ImageError(
      `the disk holding ${dirname(path)} is full (${mebibytes(free)} free, about ${mebibytes(bytes)} needed): free some space or write the image (-o) elsewhere`,
    );
  }
}

function diskFull(path: string): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    if (error.code === "ENOSPC") {
      throw new ImageError(
        `the disk holding ${dirname(path)} is full: free some space or write the image (-o) elsewhere`,
      );
    }
    throw error;
  };
}

function roundToBlock(bytes: number): number {
  return Math.ceil(bytes / 4096) * 4096;
}
