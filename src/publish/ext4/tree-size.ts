import { constants } from "node:fs";
import { access, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ImageError } from "./errors.js";

/** What a directory tree needs in an ext4 filesystem of 4 KiB blocks. */
export interface TreeSize {
  /** Data blocks of every file, directory and long symlink, each inode counted once, in bytes. */
  bytes: number;
  /** Entries under the tree (files, directories, links…), the top directory included. */
  entries: number;
}

const BLOCK = 4096;
/** A symlink target up to this long lives in the inode itself (ext4's fast symlink). */
const FAST_SYMLINK = 59;

/**
 * Walks `tree` and adds up what its files take in 4 KiB blocks: a function of the tree alone, not
 * of the filesystem it sits on (du's figure depends on that). Hard links count once. Throws an
 * ImageError naming the first entry it cannot read.
 */
export async function measureTree(tree: string): Promise<TreeSize> {
  const top = await lstat(tree).catch((error: NodeJS.ErrnoException) => {
    throw unreadable(tree, error);
  });
  if (!top.isDirectory()) {
    throw new ImageError(`${tree} is not a directory: give the root filesystem's top directory`);
  }
  const checkFiles = process.getuid?.() !== 0;
  const seen = new Set<string>();
  let bytes = BLOCK;
  let entries = 1;
  const pending = [tree];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
      throw unreadable(dir, error);
    });
    for (const name of names) {
      const path = join(dir, name);
      const info = await lstat(path);
      entries++;
      if (info.nlink > 1 && !info.isDirectory()) {
        const key = `${info.dev}:${info.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      if (info.isDirectory()) {
        bytes += BLOCK;
        pending.push(path);
      } else if (info.isFile()) {
        bytes += Math.ceil(info.size / BLOCK) * BLOCK;
        if (checkFiles) {
          await access(path, constants.R_OK).catch((error: NodeJS.ErrnoException) => {
            throw unreadable(path, error);
          });
        }
      } else if (info.isSymbolicLink() && info.size > FAST_SYMLINK) bytes += BLOCK;
    }
  }
  return { bytes, entries };
}

function unreadable(path: string, error: NodeJS.ErrnoException): ImageError {
  if (error.code === "ENOENT") {
    return new ImageError(`${path} does not exist: give the directory tree to make an image of`);
  }
  return new ImageError(
    `cannot read ${path} (${error.code ?? error.message}): run as root (a root filesystem's files are root's) or make the tree readable`,
  );
}
