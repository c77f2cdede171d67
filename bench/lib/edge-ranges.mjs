// The `/image` range runs of bench/edge.mjs: Range GETs of 256 KiB and 2 MiB at random offsets
// of the image, from the zstd and gzip edges and from nginx serving the raw image.
import { readFileSync } from "node:fs";
import { getBytes } from "./edge-workers.mjs";
import { randomOffsets } from "./latency.mjs";
import { wrkScript } from "./wrk.mjs";

export const RANGE_SIZES = [256 * 1024, 2 * 1024 * 1024];
export const RANGES_PER_SIZE = 256;

/**
 * One wrk config per range size and server (`nginx`, `zstd`, `gzip`): its key (e.g. `zstd-2m`),
 * kind, size, path, server and wrk script (written into `dir`), `counted` for the edges, and no
 * runs yet. Offsets are uniform over the first `imageBytes` of the image, the same for every
 * server of a size.
 */
export function rangeConfigs({ nginx, edge, edgeGzip }, dir, imageBytes) {
  const configs = [];
  for (const size of RANGE_SIZES) {
    const offsets = randomOffsets(RANGES_PER_SIZE, imageBytes - size);
    const requests = (path) => offsets.map((o) => ({ path, range: `bytes=${o}-${o + size - 1}` }));
    const name = size >= 2 ** 20 ? `${size / 2 ** 20}m` : `${size / 1024}k`;
    for (const [kind, server, path] of [
      ["nginx", nginx, "/raw/image.img"],
      ["zstd", edge, "/v1/rootfs/bench/image"],
      ["gzip", edgeGzip, "/v1/rootfs/bench-gzip/image"],
    ]) {
      const key = `${kind}-${name}`;
      const script = wrkScript(dir, `image-${key}`, requests(path));
      const counted = kind !== "nginx";
      configs.push({ key, kind, size, path, server, counted, script, runs: [] });
    }
  }
  return configs;
}

/** Range GETs of each config's path at three offsets, checked against the raw `image`. */
export async function checkRanges(configs, image, imageBytes) {
  const raw = readFileSync(image);
  for (const c of configs) {
    const offsets = randomOffsets(3, imageBytes - c.size, 0xc0ffee);
    for (const offset of offsets) {
      const range = `bytes=${offset}-${offset + c.size - 1}`;
      const got = await getBytes(`${c.server.url}${c.path}`, { Range: range });
      if (got.status !== 206 || !got.bytes.equals(raw.subarray(offset, offset + c.size))) {
        throw new Error(`${c.server.key}${c.path} ${range}: ${got.status}, wrong bytes`);
      }
    }
  }
}
