// The Markdown report of bench/publish.mjs.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { IMAGE_BYTES, SOURCE_DIRS } from "./images.mjs";
import { CACHE, fsType, machineLines, mb, pct, profileLines, REPEAT, shell, x } from "./run.mjs";

function machine() {
  return [
    ...machineLines(),
    `- runs per command: ${REPEAT} (best wall time kept; interleaved rounds), image read from the page cache, output on ${fsType(CACHE)} under ${CACHE}`,
  ].join("\n");
}

/** The report: `configs` as bench/publish.mjs measured them, `images` from makeImages(), `profiles` from summarizeProfiles. */
export function render(configs, images, profiles) {
  const peer = configs.find((c) => c.key === "casync-zstd" && c.best);
  const peerGzip = configs.find((c) => c.key === "casync-gzip" && c.best);
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const out = [];
  out.push("# Publish benchmark: edgeboot publish vs casync make", "");
  out.push(
    "Made by `npm run bench:publish` (bench/publish.mjs). Compare only figures of one run.",
    "",
  );
  out.push(machine(), "");
  out.push("## Test images", "");
  out.push(
    `v1: 256 MiB (${IMAGE_BYTES} bytes) of real OS files, every 4th file of /${SOURCE_DIRS.join(", /")} in a`,
    `sorted deterministic tar cut to 256 MiB (${images.files} files listed, ${images.membersInImage} members inside the`,
    `256 MiB). \`$CACHE\` is \`${CACHE}\`${images.reused ? ` (images reused, made ${images.made})` : ""}:`,
    "",
    "```sh",
    ...images.commands.map((c) => c.replaceAll(CACHE, "$CACHE")),
    "```",
    "",
  );
  const { changed, added, differing } = images.v2;
  const rebuilt = changed.filter((c) => c.how === "rebuilt").length;
  out.push(
    `v2, "a new package version": ${changed.length} of the files inside the 256 MiB changed and ${added.length} files`,
    `added (for each of evenly spaced target offsets, the first file of 64 KiB-1 MiB at or after it; first`,
    `change at ${mb(Math.min(...[...changed, ...added].map((f) => f.offset)))} MB): ${rebuilt} rebuilt (every byte changed by a fixed byte permutation,`,
    "so they compress as before; size +2% or -1%), the other " +
      `${changed.length - rebuilt} patched (4 KiB inserted in the middle), and ${added.length} files of the full`,
    "list that v1 skipped inserted at their sorted place. Everything after a change moves by its size",
    `change (rounded to 512 bytes). Bytes of v2 that are not in v1: ${mb(differing)} MB, ${pct(differing, IMAGE_BYTES)} of the image.`,
    "The files changed and added are listed in `$CACHE/images.json`.",
    "Changed files are written to `$CACHE/v2root/<path>` and tarred under their own names:",
    "",
    "```sh",
    images.v2Command.replaceAll(CACHE, "$CACHE"),
    "```",
    "",
    `sha256: v1 \`${images.sha256.v1}\`, v2 \`${images.sha256.v2}\`.`,
    "",
  );

  out.push("## Commands (each on an empty output directory)", "", "```sh");
  for (const c of configs) if (c.best) out.push(shell(c.argv(join(CACHE, "v1.img"), "v1")));
  out.push("```", "");

  out.push("## Speed and store size (image v1, cold store)", "");
  out.push(
    "MB/s = 268.4 MB image ÷ best wall time (process start to exit). CPU = user+sys seconds of the best",
    "run (÷ wall = cores busy). Chunk bytes = sum of the chunk files (the store's payload); du -sb also",
    "counts directory entries (casync makes one directory per 4-hex prefix); allocated = du in blocks.",
    "Ratios are against `casync make` with its defaults (zstd, 64 KiB average CDC): best against best,",
    "and per round (each configuration against the casync run of the same round; one-off rows: round 1).",
    "",
  );
  out.push(
    "| configuration | MB/s | × casync | × casync, each round | wall s (runs) | CPU s (cores busy) | peak RSS MB | chunks | chunk bytes MB | × casync | du -sb MB | allocated MB | index/manifest KB |",
    "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const c of configs) {
    if (!c.best) continue;
    const cpu = c.best.cpu ? c.best.cpu.user + c.best.cpu.sys : undefined;
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
      c.best.cpu ? c.best.cpu.rssMb.toFixed(0) : "–",
      c.chunks.count,
      mb(c.chunks.bytes),
      peer ? x(c.chunks.bytes, peer.chunks.bytes) : "–",
      mb(c.duApparent),
      mb(c.duAllocated),
      (c.index / 1024).toFixed(1),
    ];
    out.push(`| ${cells.join(" | ")} |`);
  }
  out.push("");
  const eg = configs.find((c) => c.key === "eb-gzip" && c.best);
  if (eg && peerGzip) {
    out.push(
      `gzip against gzip: edgeboot --codec gzip runs at ${x(speed(eg), speed(peerGzip))} casync --compression=gzip's MB/s,`,
      `with ${x(eg.chunks.bytes, peerGzip.chunks.bytes)} its chunk bytes.`,
      "",
    );
  }

  const dd = configs.filter((c) => c.v2);
  if (dd.length > 0) {
    out.push("## Dedup: v2 published into the store that holds v1", "");
    out.push(
      `v2 differs from v1 in ${mb(differing)} MB (${pct(differing, IMAGE_BYTES)} of the image). New chunks = chunk files`,
      "the v2 run added to the store; new stored = their bytes on disk (compressed); new uncompressed =",
      "the image bytes those chunks cover (from the v2 manifest / .caibx). Lower is better.",
      "",
      "| configuration | v2 chunks | new chunks | new stored MB | % of image | new uncompressed MB | % of image | v2 run MB/s |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const c of dd) {
      out.push(
        `| ${c.label} | ${c.v2.chunks} | ${c.v2.newChunks} | ${mb(c.v2.newStored)} | ${pct(c.v2.newStored, IMAGE_BYTES)} | ${mb(
          c.v2.newRaw,
        )} | ${pct(c.v2.newRaw, IMAGE_BYTES)} | ${(IMAGE_BYTES / 1e6 / c.v2.seconds).toFixed(1)} |`,
      );
    }
    out.push("");
  }

  out.push("## Targets: at least 2× casync's MB/s, store at most 5% larger than casync's", "");
  if (!peer) {
    out.push("casync did not run, so the targets cannot be judged.", "");
  } else {
    out.push("| configuration | speed ≥ 2× | store ≤ 1.05× | verdict |", "|---|---|---|---|");
    for (const c of configs) {
      if (!c.best || c.peer || c.extraRow) continue;
      const s = speed(c) / speed(peer);
      const z = c.chunks.bytes / peer.chunks.bytes;
      const okS = s >= 2;
      const okZ = z <= 1.05;
      out.push(
        `| ${c.label} | ${okS ? "yes" : "NO"} (${s.toFixed(2)}×) | ${okZ ? "yes" : "NO"} (${z.toFixed(3)}×) | ${
          okS && okZ
            ? "meets both"
            : `misses ${[okS ? "" : "speed", okZ ? "" : "size"].filter(Boolean).join(" and ")}`
        } |`,
      );
    }
    out.push("");
  }
  out.push(...observations(configs, peer), "");
  if (profiles.length > 0) {
    out.push(
      "## Where the time goes (one extra run each under `node --cpu-prof`, every thread)",
      "",
      "Thread 0 is the main thread (reads, cuts and hashes chunks, writes files); thread 1 hashes the",
      "whole image. Compression runs in libuv's thread pool (native codecs), which --cpu-prof does not see.",
      "Busy = profiled time not idle. Profiling slows the run somewhat.",
      "",
    );
    out.push(...profileLines(profiles));
    out.push("");
  }
  return `${out.join("\n")}\n`;
}

/** Plain statements computed from the numbers; the human write-up goes below them. */
function observations(configs, peer) {
  const by = (key) => configs.find((c) => c.key === key && c.best);
  const speed = (c) => IMAGE_BYTES / 1e6 / c.best.seconds;
  const out = ["## Observations (computed)", ""];
  const pairs = [
    ["eb-fixed", "eb-fixed-j1", "fixed"],
    ["eb-cdc", "eb-cdc-j1", "CDC"],
  ];
  for (const [two, one, name] of pairs) {
    const a = by(two);
    const b = by(one);
    if (!a || !b) continue;
    const cpu = (c) => (c.best.cpu ? c.best.cpu.user + c.best.cpu.sys : Number.NaN);
    out.push(
      `- ${name}: ${availableParallelism()} jobs ${speed(a).toFixed(1)} MB/s vs --jobs 1 ${speed(b).toFixed(1)} MB/s ` +
        `(${x(speed(a), speed(b))}); CPU ${cpu(a).toFixed(2)} s vs ${cpu(b).toFixed(2)} s, ` +
        `${(cpu(a) / a.best.seconds).toFixed(2)} vs ${(cpu(b) / b.best.seconds).toFixed(2)} cores busy.`,
    );
  }
  if (peer?.best.cpu) {
    const cpu = peer.best.cpu.user + peer.best.cpu.sys;
    out.push(
      `- casync: ${(cpu / peer.best.seconds).toFixed(2)} cores busy (${cpu.toFixed(2)} s CPU): single-threaded.` +
        ` Per CPU second it makes ${(IMAGE_BYTES / 1e6 / cpu).toFixed(1)} MB; edgeboot default ${
          by("eb-fixed")?.best.cpu
            ? (
                IMAGE_BYTES /
                1e6 /
                (by("eb-fixed").best.cpu.user + by("eb-fixed").best.cpu.sys)
              ).toFixed(1)
            : "–"
        } MB.`,
    );
  }
  return out;
}
