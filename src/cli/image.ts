import type { Command } from "commander";
import { mebibytes, parseSize } from "../lib/units.js";
import { ImageError } from "../publish/ext4/errors.js";
import { buildExt4Image, type Ext4Image } from "../publish/ext4/image.js";
import type { MountMethod } from "../publish/ext4/sync.js";
import { stepLine } from "./progress.js";

interface ImageFlags {
  output: string;
  base?: string;
  size?: string;
  label?: string;
  uuid?: string;
  mount: string;
}

const MOUNT_METHODS: readonly MountMethod[] = ["auto", "loop", "fuse2fs"];

/** `edgeboot image TREE -o IMG [--base PREVIOUS.img]`: an ext4 root filesystem image of a tree. */
export function imageCommand(program: Command): void {
  program
    .command("image")
    .description(
      "make an ext4 image of a directory tree: reproducible, or written into a copy of the previous version's image (--base) so an update moves only what changed",
    )
    .argument("<tree>", "the root filesystem's top directory")
    .requiredOption("-o, --output <img>", "where to write the image")
    .option(
      "--base <previous.img>",
      "the image of the previous version: unchanged files keep their blocks (grown when the tree needs room)",
    )
    .option("--size <size>", "image size, e.g. 2G (default: the tree + 25% + 64 MiB)")
    .option("--label <label>", "filesystem label, up to 16 bytes (also seeds the default UUID)")
    .option("--uuid <uuid>", "filesystem UUID and directory hash seed (default: from the label)")
    .option("--mount <how>", "how --base mounts the image: auto, loop (root) or fuse2fs", "auto")
    .action(async (tree: string, flags: ImageFlags) => {
      const size = flags.size === undefined ? undefined : parseSize(flags.size);
      if (size === undefined && flags.size !== undefined) {
        throw new ImageError(`--size ${flags.size}: give a size such as 2G, 700M or 1048576`);
      }
      if (!MOUNT_METHODS.includes(flags.mount as MountMethod)) {
        throw new ImageError(`--mount ${flags.mount}: give ${MOUNT_METHODS.join(", ")}`);
      }
      const progress = stepLine("edgeboot image", process.stderr);
      let built: Ext4Image;
      try {
        built = await buildExt4Image({
          tree,
          output: flags.output,
          base: flags.base,
          size,
          label: flags.label,
          uuid: flags.uuid,
          epoch: sourceDateEpoch(),
          mount: flags.mount as MountMethod,
          onStep: progress.step,
        });
      } finally {
        progress.stop();
      }
      process.stdout.write(summary(built));
      for (const warning of built.warnings) {
        process.stderr.write(`edgeboot: warning: ${warning}\n`);
      }
    });
}

/**
 * SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else 1: e2fsprogs reads a fake
 * time of 0 as none and takes the clock.
 */
function sourceDateEpoch(): number {
  const text = process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === "") return 1;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new ImageError(
      `SOURCE_DATE_EPOCH=${text}: give whole seconds since 1970, at least 1 (e2fsprogs reads 0 as the clock), or unset it`,
    );
  }
  return Number(text);
}

function summary(built: Ext4Image): string {
  const { fsck, tree, update } = built;
  const lines = [
    `wrote ${built.path}: ${mebibytes(built.bytes)} ext4, ${fsck.files} files, ${mebibytes(fsck.usedBlocks * 4096)} used (tree ${mebibytes(tree.bytes)} in ${tree.entries} entries)`,
  ];
  if (update) {
    lines.push(
      `  update     ${update.filesWritten} files written (${mebibytes(update.bytesWritten)}), ${update.deleted} deleted, mounted by ${update.mount}`,
      `  files      ${fsck.nonContiguousPercent}% in more than one piece`,
    );
    if (update.grownFrom !== undefined) {
      lines.push(`  grown      from ${mebibytes(update.grownFrom)}`);
    }
  } else {
    lines.push("  fresh      reproducible: the same tree gives the same bytes");
  }
  return `${lines.join("\n")}\n`;
}
