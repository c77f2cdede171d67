// The Markdown report of bench/boot.mjs (busybox rows): tables computed here, prose in
// bench/templates/boot.md.
import { availableParallelism } from "node:os";
import { PHASES } from "./boot-guest.mjs";
import { CACHE, fsType, machineLines, REPEAT } from "./run.mjs";
import { template } from "./template.mjs";

const prose = template("boot");

const TARGET = 3;

const KINDS = {
  cold: "cold cache, on demand",
  warm: "warm cache (server restarted)",
  prefetch: "cold cache + prefetch list",
  peer: "peer: nbdkit -r file (local, no network)",
};

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (ms === undefined || Number.isNaN(ms) ? "–" : (ms / 1000).toFixed(2));
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`;
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}×` : "–");

/**
 * The report: `images` (each with its recorded boot and publish output) and their `boots`, the
 * delay `proxy`, `kernel`, `loads` the load averages taken during the run, `work` the work
 * directory, `nbdArgs` what every `edgeboot nbd` was given beyond its defaults, `versions` the
 * qemu and nbdkit version lines.
 */
export function render({ images, boots, proxy, peerNote, kernel, loads, work, nbdArgs, versions }) {
  const rounds = Math.max(...boots.map((b) => b.round));
  const places = (text) =>
    text
      .replaceAll(work, "$WORK")
      .replaceAll(proxy.url, "$PROXY")
      .replaceAll(CACHE, "$CACHE")
      .replaceAll(kernel.root, "$KERNEL");
  const of = (image, kind) => boots.filter((b) => b.image === image && b.kind === kind);
  const out = [
    prose.section("intro", {
      machine: machineLines(versions).join("\n"),
      kernel: kernel.version,
      rttMs: proxy.rttMs,
      loads: loads.join("; "),
      rounds,
      repeat: REPEAT,
      work,
      workFs: fsType(CACHE),
    }),
    "",
  ];

  const imageRows = [
    "| image | size MiB | chunks (distinct) | distinct chunk bytes MiB | stored (zstd) MiB | read by the recorded boot | how made |",
    "|---|---:|---:|---:|---:|---|---|",
  ];
  for (const image of images) {
    const c = image.recordBoot.coverage;
    const stored = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.publish);
    const read = image.recordBoot.read;
    imageRows.push(
      `| ${image.name} | ${mib(c.size)} | ${c.chunks} (${c.distinct.chunks}) | ${mib(c.distinct.bytes)} | ${stored?.[2] ?? "–"} | ${read ? `${read.chunks} chunks, ${mib(read.bytes)} MiB` : "–"} | ${image.made} |`,
    );
  }
  out.push(
    prose.section("images", {
      table: imageRows.join("\n"),
      descriptions: images.map((image) => `- ${image.name}: ${image.description}`).join("\n"),
    }),
    "",
  );

  const first = boots.find((b) => b.kind === "cold");
  const qemu = places(
    `qemu-system-x86_64 ${first.args.map((a) => (/[\s,]/.test(a) && !a.startsWith("file=") ? `'${a}'` : a)).join(" ")}`,
  ).replace(/nbd:\/\/127\.0\.0\.1:\d+\/\S+?,/, "nbd://127.0.0.1:PORT/NAME,");
  const republished = images.map((image) => {
    const line = /prefetch\s+(\d+) chunks/.exec(image.republish);
    const upload = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.republish);
    return prose.section("republished", {
      image: image.name,
      listed: line?.[1] ?? "?",
      uploaded: upload?.[1] ?? "?",
      uploadedMiB: upload?.[2] ?? "?",
    });
  });
  const extra = nbdArgs.join(" ");
  out.push(
    prose.section("commands", {
      nbdArgs: nbdArgs.length ? ` ${extra}` : "",
      qemu,
      republished: republished.join("\n"),
      jobs: Math.max(8, availableParallelism() * 4),
      nbdArgsAdded: nbdArgs.length ? prose.section("nbd-args-added", { nbdArgs: extra }) : "",
    }),
    "",
  );

  const timeRows = [
    "| image | boot | whole: best | median | rounds | root fs phase: best | median | rounds | chunk requests (median) | MB over the proxy | start requests | edge busy in root fs phase |",
    "|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|",
  ];
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const whole = bs.map((b) => b.wholeMs);
      const fs = bs.map((b) => b.rootfsMs);
      const http = bs.filter((b) => b.http);
      timeRows.push(
        `| ${image.name} | ${label} | ${sec(Math.min(...whole))} | ${sec(median(whole))} | ${whole.map(sec).join(", ")} | ${sec(Math.min(...fs))} | ${sec(median(fs))} | ${fs.map(sec).join(", ")} | ${http.length ? median(http.map((b) => b.http.chunkRequests)) : "–"} | ${http.length ? (median(http.map((b) => b.http.bytes)) / 1e6).toFixed(1) : "–"} | ${http.length ? median(http.map((b) => b.http.startRequests)) : "–"} | ${http.length ? sec(median(http.map((b) => b.http.busyMs))) : "–"} |`,
      );
    }
  }
  out.push(prose.section("boot-times", { table: timeRows.join("\n") }), "");

  const phaseRows = [
    `| image | boot | ${PHASES.map(([, label]) => label).join(" | ")} | whole |`,
    `|---|---|${PHASES.map(() => "---:").join("|")}|---:|`,
  ];
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      phaseRows.push(
        `| ${image.name} | ${label} | ${PHASES.map(([key]) => sec(median(bs.map((b) => b.phases[key])))).join(" | ")} | ${sec(median(bs.map((b) => b.wholeMs)))} |`,
      );
    }
  }
  out.push(prose.section("phases", { table: phaseRows.join("\n") }), "");

  const targetRows = [
    "| image | measure | cold, on demand (median) | cold + prefetch (median) | warm (median) | nbdkit (median) | ratio of medians | ratio of bests | per round | bound: cold ÷ nbdkit | target met |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
  ];
  const targets = [];
  for (const image of images) {
    const cold = of(image.name, "cold");
    const pre = of(image.name, "prefetch");
    if (cold.length === 0 || pre.length === 0) continue;
    for (const [label, f] of [
      ["whole boot", (b) => b.wholeMs],
      ["root fs phase", (b) => b.rootfsMs],
    ]) {
      const m = (kind) => {
        const bs = of(image.name, kind);
        return bs.length ? median(bs.map(f)) : Number.NaN;
      };
      const best = (bs) => Math.min(...bs.map(f));
      const r = m("cold") / m("prefetch");
      const rBest = best(cold) / best(pre);
      const per = cold
        .map((b) => {
          const q = pre.find((x) => x.round === b.round);
          return q ? ratio(f(b), f(q)) : undefined;
        })
        .filter(Boolean);
      const met = r >= TARGET;
      const bound = m("cold") / m("peer");
      targets.push({ image: image.name, label, ratio: r, best: rBest, met, bound });
      targetRows.push(
        `| ${image.name} | ${label} | ${sec(m("cold"))} | ${sec(m("prefetch"))} | ${sec(m("warm"))} | ${sec(m("peer"))} | ${r.toFixed(2)}× | ${rBest.toFixed(2)}× | ${per.join(", ")} | ${Number.isNaN(bound) ? "–" : `${bound.toFixed(2)}×`} | ${met ? "yes" : "NO"} |`,
      );
    }
  }
  out.push(prose.section("targets", { target: TARGET, table: targetRows.join("\n") }), "");

  const shareRows = [
    "| image | boot | chunks fetched | of distinct | bytes fetched (uncompressed) MiB | of image size | of distinct chunk bytes | compressed MiB | of image size |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const image of images) {
    for (const kind of ["cold", "prefetch"]) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const c = bs[0].coverage;
      const chunks = median(bs.map((b) => b.coverage.cached.chunks));
      const bytes = median(bs.map((b) => b.coverage.cached.bytes));
      const packed = median(bs.map((b) => b.usage.compressedMiB)) * 2 ** 20;
      shareRows.push(
        `| ${image.name} | ${KINDS[kind]} | ${chunks} | ${pct(chunks, c.distinct.chunks)} | ${mib(bytes)} | ${pct(bytes, c.size)} | ${pct(bytes, c.distinct.bytes)} | ${mib(packed)} | ${pct(packed, c.size)} |`,
      );
    }
    const read = image.recordBoot.read;
    const c = image.recordBoot.coverage;
    if (read) {
      shareRows.push(
        `| ${image.name} | read by the guest (recorded boot) | ${read.chunks} | ${pct(read.chunks, c.distinct.chunks)} | ${mib(read.bytes)} | ${pct(read.bytes, c.size)} | ${pct(read.bytes, c.distinct.bytes)} | – | – |`,
      );
    }
  }
  out.push(prose.section("share-fetched", { table: shareRows.join("\n") }), "");

  const prefetchRows = [
    "| image | round | prefetch list | loaded in s | root disk found at s | chunk requests before it | after it | last chunk response at s | marker at s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const image of images) {
    for (const b of of(image.name, "prefetch")) {
      prefetchRows.push(
        `| ${image.name} | ${b.round} | ${b.prefetch?.chunks ?? "–"} | ${b.prefetch ? b.prefetch.seconds.toFixed(1) : "–"} | ${sec(b.diskMs)} | ${b.http.chunksBeforeDisk} | ${b.http.chunksAfterDisk} | ${sec(b.http.lastChunkEndMs)} | ${sec(b.wholeMs)} |`,
      );
    }
  }
  out.push(prose.section("prefetch-timing", { table: prefetchRows.join("\n") }), "");

  out.push(prose.section("observations"), "", ...observations(images, of, targets));
  if (peerNote) out.push(`- ${peerNote}`);
  out.push("");
  return `${out.join("\n")}\n`;
}

/** The computed observations: per image what was read and fetched, then each target's verdict. */
function observations(images, of, targets) {
  const out = [];
  for (const image of images) {
    const rec = image.recordBoot;
    const cold = of(image.name, "cold");
    const pre = of(image.name, "prefetch");
    if (image.readBytes && rec.read) {
      out.push(
        prose.section("observation-read-files", {
          image: image.name,
          files: image.readFiles,
          fileMiB: mib(image.readBytes),
          chunks: rec.read.chunks,
          chunkMiB: mib(rec.read.bytes),
          ratio: (rec.read.bytes / image.readBytes).toFixed(1),
        }),
      );
    }
    if (rec.read && cold.length) {
      const fetched = median(cold.map((b) => b.coverage.cached.chunks));
      out.push(
        prose.section("observation-read-ahead", {
          image: image.name,
          read: rec.read.chunks,
          fetched,
          added: fetched - rec.read.chunks,
          addedShare: pct(fetched - rec.read.chunks, rec.read.chunks),
        }),
      );
    }
    if (pre.length) {
      const margins = pre.map((b) =>
        b.prefetch ? (b.diskMs / 1000 - b.prefetch.seconds).toFixed(1) : "?",
      );
      out.push(
        prose.section("observation-prefetch", {
          image: image.name,
          listed: pre[0].prefetch?.chunks ?? "?",
          margins: margins.join(", "),
          after: median(pre.map((b) => b.http.chunksAfterDisk)),
        }),
      );
    }
    const dups = [...cold, ...pre].filter((b) => b.http?.duplicates > 0);
    if (dups.length) {
      out.push(
        prose.section("observation-duplicates", {
          image: image.name,
          boots: dups.map((b) => `round ${b.round} ${b.kind} (${b.http.duplicates})`).join(", "),
        }),
      );
    }
  }
  for (const t of targets) {
    out.push(
      prose.section("observation-target", {
        image: t.image,
        measure: t.label,
        verdict: t.met ? "met" : "missed",
        ratio: t.ratio.toFixed(2),
        best: t.best.toFixed(2),
        bound: Number.isNaN(t.bound)
          ? ""
          : prose.section("observation-target-bound", { bound: t.bound.toFixed(2) }),
      }),
    );
  }
  return out;
}
