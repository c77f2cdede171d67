// What changed between two versions, for bench/updates.mjs: the files of two directory trees, the
// 4 KiB blocks of two images.
import { lstat, open, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Every entry under `tree`, path → what to compare it by.
 * @param {string} tree
 * @returns {Promise<Map<string, { kind: "file" | "link" | "dir" | "other", size: number }>>}
 */
async function entries(tree) {
  /** @type {Map<string, { kind: "file" | "link" | "dir" | "other", size: number }>} */
  const found = new Map();
  const pending = [""];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const name of await readdir(join(tree, dir))) {
      const path = dir ? `${dir}/${name}` : name;
      const info = await lstat(join(tree, path));
      const kind = info.isFile()
        ? "file"
        : info.isSymbolicLink()
          ? "link"
          : info.isDirectory()
            ? "dir"
            : "other";
      found.set(path, { kind, size: info.size });
      if (kind === "dir") pending.push(path);
    }
  }
  return found;
}

/**
 * The regular files and symlinks of `next` that are new or differ in content from `previous`
 * (compared byte for byte), their bytes, and how many entries of `previous` are gone.
 * @param {string} previous
 * @param {string} next
 * @returns {Promise<{ files: number, bytes: number, deleted: number, paths: string[] }>}
 */
export async function changedFiles(previous, next) {
  const [before, after] = await Promise.all([entries(previous), entries(next)]);
  let files = 0;
  let bytes = 0;
  const paths = [];
  for (const [path, entry] of after) {
    if (entry.kind !== "file" && entry.kind !== "link") continue;
    const old = before.get(path);
    let same = old?.kind === entry.kind && old.size === entry.size;
    if (same && entry.kind === "file") {
      const [a, b] = await Promise.all([
        readFile(join(previous, path)),
        readFile(join(next, path)),
      ]);
      same = a.equals(b);
    } else if (same) {
      same = (await readlink(join(previous, path))) === (await readlink(join(next, path)));
    }
    if (!same) {
      files++;
      bytes += entry.size;
      paths.push(path);
    }
  }
  const deleted = [...before.keys()].filter((path) => !after.has(path)).length;
  return { files, bytes, deleted, paths };
}

/**
 * How many 4 KiB blocks differ between two images (past the shorter one's end, it reads as
 * zeros: a grown image's new empty blocks do not count).
 * @param {string} a
 * @param {string} b
 * @returns {Promise<number>}
 */
export async function differingBlocks(a, b) {
  const [fa, fb] = await Promise.all([open(a, "r"), open(b, "r")]);
  const slice = 4 * 1024 * 1024;
  const ba = Buffer.alloc(slice);
  const bb = Buffer.alloc(slice);
  let differing = 0;
  try {
    for (let at = 0; ; at += slice) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, slice, at), fb.read(bb, 0, slice, at)]);
      const n = Math.max(ra.bytesRead, rb.bytesRead);
      if (n === 0) break;
      if (ra.bytesRead < n) ba.fill(0, ra.bytesRead);
      if (rb.bytesRead < n) bb.fill(0, rb.bytesRead);
      for (let block = 0; block < n; block += 4096) {
        const end = Math.min(block + 4096, n);
        if (ba.compare(bb, block, end, block, end) !== 0) differing++;
      }
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
  return differing;
}
