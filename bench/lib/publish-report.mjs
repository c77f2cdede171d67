// The Markdown report of bench/publish.mjs: tables computed here, prose in
// bench/templates/publish.md.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { IMAGE_BYTES, SOURCE_DIRS } from "./images.mjs";
import {
  CACHE,
  fsType,
  machineLines,
  mb,
  pct,
  profileLines,
  REPEAT,
  ROOT,
  shell,
  x,
} from "./run.mjs";
import { template } from "./template.mjs";

const prose = template("publish");

/** The test images, in report order: v1 (a tar) and the second image of other files (ext4). */
const IMAGES = [
  { image: "v1", title: "image v1, a tar" },
  { image: "ext4", title: "the second image, ext4 of other files" },
];

/** The image a configuration ran on (configurations without one ran on v1). */
const imageOf = (c) => c.image ?? "v1";

/**
 * The report: `configs` as bench/publish.mjs measured them (each on one image, `c.image`),
 * `images` from makeImages() with the second image's description as `images.second`, `profiles`
 * from summarizeProfiles.
 */
export function render(configs, images, profiles) {
  const peerOf = (image, key = "casync-zstd") =>
    configs.find((c) => c.key === key && imageOf(c) === image && c.best);
  const peer = peerOf("v1");
  const peerGzip = peerOf("v1", "casync-gzip");
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const { changed, added, differing } = images.v2;
  const rebuilt = changed.filter((c) => c.how === "rebuilt").length;
  const out = [
    prose.section("intro", {
      machine: machineLines().join("\n"),
      repeat: REPEAT,
      cacheFs: fsType(CACHE),
      cache: CACHE,
    }),
    "",
    prose.section("test-images", {
      imageBytes: IMAGE_BYTES,
      sourceDirs: SOURCE_DIRS.join(", /"),
      files: images.files,
      members: images.membersInImage,
      cache: CACHE,
      reused: images.reused ? ` ${prose.section("images-reused", { made: images.made })}` : "",
      commands: images.commands.map((c) => c.replaceAll(CACHE, "$CACHE")).join("\n"),
      changed: changed.length,
      added: added.length,
      firstChangeMB: mb(Math.min(...[...changed, ...added].map((f) => f.offset))),
      rebuilt,
      patched: changed.length - rebuilt,
      differingMB: mb(differing),
      differingShare: pct(differing, IMAGE_BYTES),
      v2Command: images.v2Command.replaceAll(CACHE, "$CACHE"),
      v1: images.sha256.v1,
      v2: images.sha256.v2,
    }),
    "",
  ];
  const second = images.second;
  if (second) {
    out.push(
      prose.section("second-image", {
        sourceDirs: second.dirs.join(", /"),
        files: second.files,
        treeMB: mb(second.treeBytes),
        reused: second.reused ? ` ${prose.section("images-reused", { made: second.made })}` : "",
        commands: second.commands
          .map((c) => c.replaceAll(CACHE, "$CACHE").replaceAll(ROOT, ""))
          .join("\n"),
        sha256: second.sha256,
      }),
      "",
    );
  }

  const commands = configs
    .filter((c) => c.best)
    .map((c) => shell(c.argv(join(CACHE, `${imageOf(c)}.img`), "v1")));
  out.push(prose.section("commands", { commands: commands.join("\n") }), "");

  for (const { image, title } of IMAGES) {
    const rows = configs.filter((c) => imageOf(c) === image && c.best);
    if (rows.length === 0) continue;
    out.push(prose.section("speed", { image: title, table: speedTable(rows, peerOf(image)) }), "");
  }
  const eg = configs.find((c) => c.key === "eb-gzip" && imageOf(c) === "v1" && c.best);
  if (eg && peerGzip) {
    out.push(
      prose.section("gzip", {
        speed: x(speed(eg), speed(peerGzip)),
        bytes: x(eg.chunks.bytes, peerGzip.chunks.bytes),
      }),
      "",
    );
  }

  const dd = configs.filter((c) => c.v2);
  if (dd.length > 0) {
    const rows = [
      "| configuration | v2 chunks | new chunks | new stored MB | % of image | new uncompressed MB | % of image | v2 run MB/s |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const c of dd) {
      rows.push(
        `| ${c.label} | ${c.v2.chunks} | ${c.v2.newChunks} | ${mb(c.v2.newStored)} | ${pct(c.v2.newStored, IMAGE_BYTES)} | ${mb(
          c.v2.newRaw,
        )} | ${pct(c.v2.newRaw, IMAGE_BYTES)} | ${(IMAGE_BYTES / 1e6 / c.v2.seconds).toFixed(1)} |`,
      );
    }
    out.push(
      prose.section("dedup", {
        differingMB: mb(differing),
        differingShare: pct(differing, IMAGE_BYTES),
        table: rows.join("\n"),
      }),
      "",
    );
  }

  out.push(prose.section("targets"), "");
  if (!peer) {
    out.push(prose.section("targets-without-casync"), "");
  } else {
    out.push(...targetRows(configs, peerOf), "");
  }
  out.push(...observations(configs, peerOf), "");
  if (profiles.length > 0) {
    out.push(prose.section("profiles", { profiles: profileLines(profiles).join("\n") }), "");
  }
  return `${out.join("\n")}\n`;
}

/** The speed and store size table of one image's configurations. */
function speedTable(rows, peer) {
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const lines = [
    "| configuration | MB/s | × casync | × casync, each round | wall s (runs) | CPU s (cores busy) | × casync CPU | peak RSS MB | chunks | chunk bytes MB | × casync | du -sb MB | allocated MB | index/manifest KB |",
    "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const cpuOf = (c) => (c.best.cpu ? c.best.cpu.user + c.best.cpu.sys : undefined);
  const peerCpu = peer ? cpuOf(peer) : undefined;
  for (const c of rows) {
    const cpu = cpuOf(c);
    const rounds = peer
      ? c.runs.map((r, i) => (peer.runs[i] ? x(peer.runs[i].seconds, r.seconds) : "–")).join(", ")
      : "–";
    const cells = [
      c.label,
      speed(c).toFixed(1),
      peer ? x(speed(c), speed(peer)) : "–",
      rounds,
      c.runs.map((r) => r.seconds.toFixed(2)).join(", "),
      cpu === undefined ? "–" : `${cpu.toFixed(2)} (${(cpu / c.best.seconds).toFixed(2)})`,
      cpu === undefined || peerCpu === undefined ? "–" : x(cpu, peerCpu),
      c.best.cpu ? c.best.cpu.rssMb.toFixed(0) : "–",
      c.chunks.count,
      mb(c.chunks.bytes),
      peer ? x(c.chunks.bytes, peer.chunks.bytes) : "–",
      mb(c.duApparent),
      mb(c.duAllocated),
      (c.index / 1024).toFixed(1),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** The targets table: each target configuration on each image, against casync on that image. */
function targetRows(configs, peerOf) {
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const out = [
    "| image | configuration | speed ≥ 2× | speed ≥ 2× every round | store ≤ 1.05× | verdict |",
    "|---|---|---|---|---|---|",
  ];
  for (const { image } of IMAGES) {
    const peer = peerOf(image);
    if (!peer) continue;
    for (const c of configs) {
      if (!c.best || c.peer || c.extraRow || imageOf(c) !== image) continue;
      const s = speed(c) / speed(peer);
      const z = c.chunks.bytes / peer.chunks.bytes;
      const rounds = c.runs
        .map((r, i) => (peer.runs[i] ? peer.runs[i].seconds / r.seconds : undefined))
        .filter((r) => r !== undefined);
      const low = Math.min(...rounds);
      const okS = s >= 2;
      const okZ = z <= 1.05;
      out.push(
        `| ${image} | ${c.label} | ${okS ? "yes" : "NO"} (${s.toFixed(2)}×) | ${low >= 2 ? "yes" : "no"} (lowest ${low.toFixed(2)}×) | ${okZ ? "yes" : "NO"} (${z.toFixed(3)}×) | ${
          okS && okZ
            ? "meets both"
            : `misses ${[okS ? "" : "speed", okZ ? "" : "size"].filter(Boolean).join(" and ")}`
        } |`,
      );
    }
  }
  return out;
}

/** Plain statements computed from the numbers; the human write-up goes below them. */
function observations(configs, peerOf) {
  const by = (key, image = "v1") =>
    configs.find((c) => c.key === key && imageOf(c) === image && c.best);
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const cpu = (c) => (c.best.cpu ? c.best.cpu.user + c.best.cpu.sys : Number.NaN);
  const out = [prose.section("observations"), ""];
  const pairs = [
    ["eb-fixed", "eb-fixed-j1", "fixed"],
    ["eb-cdc", "eb-cdc-j1", "CDC"],
  ];
  for (const [two, one, name] of pairs) {
    const a = by(two);
    const b = by(one);
    if (!a || !b) continue;
    out.push(
      prose.section("observation-jobs", {
        chunking: name,
        cores: availableParallelism(),
        speed: speed(a).toFixed(1),
        speedOne: speed(b).toFixed(1),
        speedup: x(speed(a), speed(b)),
        cpu: cpu(a).toFixed(2),
        cpuOne: cpu(b).toFixed(2),
        busy: (cpu(a) / a.best.seconds).toFixed(2),
        busyOne: (cpu(b) / b.best.seconds).toFixed(2),
      }),
    );
  }
  for (const { image } of IMAGES) {
    const peer = peerOf(image);
    if (!peer?.best.cpu) continue;
    const fixed = by("eb-fixed", image);
    out.push(
      prose.section("observation-casync", {
        image,
        busy: (cpu(peer) / peer.best.seconds).toFixed(2),
        cpu: cpu(peer).toFixed(2),
        perCpu: (IMAGE_BYTES / 1e6 / cpu(peer)).toFixed(1),
        edgebootPerCpu: fixed?.best.cpu ? (IMAGE_BYTES / 1e6 / cpu(fixed)).toFixed(1) : "–",
      }),
    );
  }
  return out;
}
