// Reading the stores the publishers write: edgeboot's directory store (`publish --out DIR`) and
// casync's chunk store and blob index.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_BYTES } from "./images.mjs";

/** Chunk files (count, bytes) under dir: casync's *.cacnk, or edgeboot's v1/chunks/*. */
export function chunkFiles(dir, kind) {
  const root = kind === "casync" ? dir : join(dir, "v1", "chunks");
  const files = new Map();
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (kind === "casync" ? entry.name.endsWith(".cacnk") : !entry.name.startsWith(".")) {
        files.set(kind === "casync" ? entry.name.slice(0, -6) : entry.name, statSync(path).size);
      }
    }
  };
  walk(root);
  let bytes = 0;
  for (const size of files.values()) bytes += size;
  return { files, count: files.size, bytes };
}

/** [id, length] of each chunk of a casync blob index (.caibx), in image order. */
export function caibxChunks(path) {
  const bytes = readFileSync(path);
  const items = [];
  let previous = 0;
  // 48-byte index header, 16-byte table header, 40-byte items (end offset, digest), 40-byte tail.
  for (let at = 64; at + 80 <= bytes.length; at += 40) {
    const end = Number(bytes.readBigUInt64LE(at));
    items.push([bytes.subarray(at + 8, at + 40).toString("hex"), end - previous]);
    previous = end;
  }
  if (previous !== IMAGE_BYTES) throw new Error(`${path}: chunk lengths add up to ${previous}`);
  return items;
}

/** [id, length] of each chunk of an edgeboot manifest, in image order. */
export function manifestChunks(dir, stdout) {
  const id = /manifest\s+([0-9a-f]{64})/.exec(stdout)?.[1];
  if (!id) throw new Error(`no manifest id in the publish summary:\n${stdout}`);
  const manifest = JSON.parse(readFileSync(join(dir, "v1", "manifests", id), "utf8"));
  const lengths = manifest.lengths.flatMap(([length, count]) => Array(count).fill(length));
  return manifest.chunks.map((chunk, index) => [chunk, lengths[index]]);
}

/** [id, length] of each chunk of the manifest that ref `name` of a directory store points at. */
export function refChunks(dir, name) {
  const ref = JSON.parse(readFileSync(join(dir, "v1", "rootfs", name), "utf8"));
  return manifestChunks(dir, `manifest ${ref.manifest}`);
}
