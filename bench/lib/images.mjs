// The test images of the benchmarks: v1, 256 MiB of real OS files in a sorted deterministic tar,
// and v2, "a new package version" of it; and for bench:publish a second image of other real files,
// an ext4 filesystem (ext4.img). Made once into the cache directory and reused (delete $CACHE to
// remake them). bench/results/publish.md describes them in full.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { bash, CACHE, log, ROOT, sha256File } from "./run.mjs";

export const IMAGE_BYTES = 256 * 1024 * 1024;
export const SOURCE_DIRS = ["usr/lib/x86_64-linux-gnu", "usr/share", "usr/bin"];
const TAR_FLAGS =
  "--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --verbatim-files-from";

/** The exact commands that make image v1 (run by bash from /). */
function v1Commands() {
  return [
    `cd / && find ${SOURCE_DIRS.join(" ")} -type f | LC_ALL=C sort > ${CACHE}/list-all.txt`,
    `awk 'NR%4==1' ${CACHE}/list-all.txt > ${CACHE}/list-v1.txt`,
    `tar -C / ${TAR_FLAGS} -cf - -T ${CACHE}/list-v1.txt | head -c ${IMAGE_BYTES} > ${CACHE}/v1.img`,
  ];
}

/** The command that makes image v2 from list-v2.txt (changed files come from v2root/). */
function v2Command(overlayRel) {
  const pattern = `^${overlayRel.replace(/[.[\]*^$\\|+?(){}]/g, "\\$&")}/`;
  return `tar -C / ${TAR_FLAGS} --transform='s|${pattern}||' -cf - -T ${CACHE}/list-v2.txt | head -c ${IMAGE_BYTES} > ${CACHE}/v2.img`;
}

/** A fixed permutation of byte values: rebuilds a file's bytes without changing how they compress. */
const PERMUTE = Uint8Array.from({ length: 256 }, (_, b) => (b * 167 + 13) & 255);
const permute = (bytes) => Uint8Array.from(bytes, (b) => PERMUTE[b]);

/** [name, header block] of each member in the (cut) tar, in order. */
function tarBlocks(image) {
  const out = spawnSync("tar", ["-tR", "-f", image], { maxBuffer: 256 * 1024 * 1024 });
  const members = [];
  for (const line of out.stdout.toString().split("\n")) {
    const m = /^block (\d+): (.*)$/.exec(line);
    if (m && m[2] !== "** Block of NULs **") members.push([m[2], Number(m[1]) * 512]);
  }
  return members;
}

/** Makes (or reuses) v1.img and v2.img in $CACHE; returns their description (images.json). */
export function makeImages() {
  mkdirSync(CACHE, { recursive: true });
  const v1 = join(CACHE, "v1.img");
  const v2 = join(CACHE, "v2.img");
  const metaPath = join(CACHE, "images.json");
  if (existsSync(v1) && existsSync(v2) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8"));
    if (statSync(v1).size === IMAGE_BYTES && statSync(v2).size === IMAGE_BYTES && meta.v2) {
      log(`reusing the images in ${CACHE} (made ${meta.made}); delete it to remake them`);
      return { ...meta, reused: true };
    }
  }
  for (const name of ["v1.img", "v2.img", "images.json", "v2root"]) {
    rmSync(join(CACHE, name), { recursive: true, force: true });
  }
  log("making image v1 (256 MiB of real OS files)");
  const commands = v1Commands();
  bash(commands.join(" && "), "making v1");
  if (statSync(v1).size !== IMAGE_BYTES) throw new Error("v1.img is shorter than 256 MiB");
  const all = lines(join(CACHE, "list-all.txt"));
  const listV1 = lines(join(CACHE, "list-v1.txt"));

  // v2, "a new package version": 20 files that lie inside the 256 MiB rebuilt or patched, and 3
  // files added in the middle of the list, chosen at evenly spaced offsets of the image.
  log("making image v2 (v1 with ~20 files changed and 3 added)");
  const members = tarBlocks(v1);
  const offsetOf = new Map();
  for (const [index, [name, offset]] of members.entries()) {
    if (listV1[index] === name) offsetOf.set(name, offset);
  }
  const fits = (path) => {
    const info = lstatSync(`/${path}`);
    return info.isFile() && info.nlink === 1 && info.size >= 65536 && info.size <= 1048576;
  };
  const usable = IMAGE_BYTES - 8 * 1048576;
  const changed = [];
  for (let k = 0; k < 20; k++) {
    const at = ((k + 0.5) * usable) / 20;
    const path = listV1.find(
      (p) => (offsetOf.get(p) ?? -1) >= at && fits(p) && !changed.some((c) => c.path === p),
    );
    if (!path || offsetOf.get(path) > usable) continue;
    changed.push({ path, offset: offsetOf.get(path), how: k % 4 === 3 ? "patched" : "rebuilt" });
  }
  const inV1 = new Set(listV1);
  const added = [];
  for (const fraction of [1 / 6, 3 / 6, 5 / 6]) {
    const at = fraction * usable;
    const after = listV1.find((p) => (offsetOf.get(p) ?? -1) >= at);
    if (!offsetOf.has(after)) continue;
    const from = all.indexOf(after);
    const path = all.slice(from, from + 400).find((p) => !inV1.has(p) && fits(p));
    const next = path && listV1.find((p) => Buffer.compare(Buffer.from(p), Buffer.from(path)) > 0);
    if (path && (offsetOf.get(next) ?? Number.POSITIVE_INFINITY) <= usable) {
      added.push({ path, offset: offsetOf.get(next), how: "added" });
    }
  }
  const overlay = join(CACHE, "v2root");
  const overlayRel = relative("/", overlay);
  let differing = 0;
  for (const [index, file] of changed.entries()) {
    const old = readFileSync(`/${file.path}`);
    let bytes;
    if (file.how === "rebuilt") {
      // Every byte changes (recompiled: addresses move everywhere); the size grows 2% or shrinks 1%.
      const body = permute(old);
      bytes =
        index % 2 === 0
          ? Buffer.concat([body, body.subarray(0, Math.floor(old.length * 0.02))])
          : body.subarray(0, Math.ceil(old.length * 0.99));
      differing += bytes.length;
    } else {
      // A local edit: 4 KiB inserted in the middle.
      const middle = Math.floor(old.length / 2);
      const insert = permute(old.subarray(0, 4096));
      bytes = Buffer.concat([old.subarray(0, middle), insert, old.subarray(middle)]);
      differing += insert.length;
    }
    file.oldSize = old.length;
    file.newSize = bytes.length;
    mkdirSync(dirname(join(overlay, file.path)), { recursive: true });
    writeFileSync(join(overlay, file.path), bytes);
  }
  for (const file of added) {
    file.oldSize = 0;
    file.newSize = statSync(`/${file.path}`).size;
    differing += file.newSize;
  }
  const byPath = new Map(changed.map((c) => [c.path, c]));
  const listV2 = [...listV1, ...added.map((a) => a.path)]
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((p) => (byPath.has(p) ? `${overlayRel}/${p}` : p));
  writeFileSync(join(CACHE, "list-v2.txt"), `${listV2.join("\n")}\n`);
  const command = v2Command(overlayRel);
  bash(command, "making v2");
  if (statSync(v2).size !== IMAGE_BYTES) throw new Error("v2.img is shorter than 256 MiB");
  const names = spawnSync("tar", ["-t", "-f", v2]).stdout.toString();
  if (names.includes(overlayRel)) throw new Error("v2.img holds overlay paths: --transform failed");
  const meta = {
    made: new Date().toISOString(),
    commands,
    v2Command: command,
    files: listV1.length,
    membersInImage: members.length,
    sha256: { v1: sha256File(v1), v2: sha256File(v2) },
    v2: { changed, added, differing },
  };
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return { ...meta, reused: false };
}

function lines(path) {
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

/** Where the files of the second image come from: a set of real files that v1 does not hold. */
export const SECOND_SOURCE_DIRS = [
  "usr/lib/python3.11",
  "usr/lib/gcc",
  "usr/lib/llvm-14",
  "usr/lib/git-core",
  "usr/lib/postgresql",
  "usr/lib/node_modules",
];

/**
 * The exact commands that make the second image, an ext4 filesystem (`edgeboot image`, run from
 * the repository's CLI) holding every 5th file of SECOND_SOURCE_DIRS, with every time stamp at 0 so the
 * same files give the same bytes. Directories this host lacks are left out of the list.
 */
function secondCommands(dirs) {
  const root = `${CACHE}/ext4root`;
  return [
    `cd / && find ${dirs.join(" ")} -type f | LC_ALL=C sort | awk 'NR%5==1' > ${CACHE}/list-ext4.txt`,
    `rm -rf ${root} && mkdir ${root} && tar -C / ${TAR_FLAGS} -cf - -T ${CACHE}/list-ext4.txt | tar -C ${root} -xf -`,
    `find ${root} -exec touch -h -d @0 {} +`,
    `node ${join(ROOT, "bin", "edgeboot.js")} image ${root} -o ${CACHE}/ext4.img --size ${IMAGE_BYTES / 1048576}M --label bench-ext4`,
  ];
}

/**
 * Makes (or reuses) ext4.img in $CACHE, the second image of bench:publish: 256 MiB of another set
 * of real files than v1's, as a filesystem image rather than a tar, so that no figure depends on
 * one image's content. Needs the CLI built. Returns its description (image-ext4.json).
 */
export function makeSecondImage() {
  mkdirSync(CACHE, { recursive: true });
  const image = join(CACHE, "ext4.img");
  const metaPath = join(CACHE, "image-ext4.json");
  if (existsSync(image) && existsSync(metaPath) && statSync(image).size === IMAGE_BYTES) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8"));
    log(`reusing ${image} (made ${meta.made}); delete it to remake it`);
    return { ...meta, reused: true };
  }
  rmSync(metaPath, { force: true });
  const dirs = SECOND_SOURCE_DIRS.filter((dir) => existsSync(`/${dir}`));
  if (dirs.length === 0) throw new Error(`none of /${SECOND_SOURCE_DIRS.join(", /")} exists`);
  log("making the second image: an ext4 filesystem of other real files");
  const commands = secondCommands(dirs);
  bash(commands.join(" && "), "making ext4.img");
  if (statSync(image).size !== IMAGE_BYTES) throw new Error("ext4.img is not 256 MiB");
  const list = lines(join(CACHE, "list-ext4.txt"));
  const meta = {
    made: new Date().toISOString(),
    dirs,
    commands,
    files: list.length,
    treeBytes: list.reduce((n, path) => n + lstatSync(`/${path}`).size, 0),
    sha256: sha256File(image),
  };
  rmSync(join(CACHE, "ext4root"), { recursive: true, force: true });
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return { ...meta, reused: false };
}
