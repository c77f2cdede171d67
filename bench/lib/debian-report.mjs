// The Debian rows of bench/results/boot.md: the Debian root booted through the fetcher inside the
// guest (bench/lib/debian-boot.mjs), cold, warm and cold with the prefetch list, and the three
// targets of issue 13 as ratios within the run. Tables computed here, prose in
// bench/templates/debian.md.
import { DEBIAN_PACKAGES } from "../../scripts/boot/debian.mjs";
import { DEBIAN_ROOTFS, DEBIAN_STEPS, GUEST } from "./debian-boot.mjs";
import { fsType, machineLines, profileLines, REPEAT } from "./run.mjs";
import { template } from "./template.mjs";

const prose = template("debian");

/** The targets, each a ratio within one run. */
export const DEBIAN_TARGETS = { prefetchOverWarm: 1.3, fetchedOverTouched: 1.3, warmChunks: 0 };

const KINDS = {
  cold: "cold: empty cache disk",
  prefetch: "cold + prefetch list",
  warm: "warm: the cold boot's cache disk",
};

const median = (values) => {
  const s = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "–");
const mib = (bytes) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(1) : "–");
const x = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");
const num = (value) => (Number.isFinite(value) ? String(Math.round(value)) : "–");

/**
 * The Debian section(s) of the report.
 * @param {{ debian: any, proxy: any, boots: any[], profiled?: any[], loads: string[],
 *   work: string, standalone: boolean, cache: string, qemu: string }} options `standalone`: no
 *   busybox report above it (adds the title and the machine lines, naming `qemu`, its version
 *   line); `profiled`: boots whose fetcher ran under the CPU profiler
 */
export function renderDebian({
  debian,
  proxy,
  boots,
  profiled = [],
  loads,
  work,
  standalone,
  cache,
  qemu,
}) {
  const ok = boots.filter((b) => !b.failed);
  const failed = boots.filter((b) => b.failed);
  const of = (kind) => ok.filter((b) => b.kind === kind);
  const med = (kind, f) => median(of(kind).map(f));
  const rounds = Math.max(0, ...boots.map((b) => b.round));
  const out = [];
  if (standalone) {
    out.push(prose.section("standalone-intro", { machine: machineLines([qemu]).join("\n") }), "");
  }
  const image = debian.image;
  const first = ok[0];
  const command = first
    ? first.args
        .map((a) => (/[\s,]/.test(a) ? `'${a}'` : a))
        .join(" ")
        .replaceAll(work, "$WORK")
        .replace(/qemu-system-x86_64 |^/, "qemu-system-x86_64 ")
        .replace(/edgeboot\.sig=\S+/, "edgeboot.sig=…")
        .replace(/\/\S+\/vmlinuz/, "$KERNEL/vmlinuz")
        .replace(/TCP:127\.0\.0\.1:\d+/, "TCP:127.0.0.1:$PROXY_PORT")
    : "";
  out.push(
    prose.section("intro", {
      kernel: debian.kernel.version,
      cpus: GUEST.cpus,
      memoryMiB: GUEST.memoryMiB,
      rttMs: proxy.rttMs,
      rootfs: DEBIAN_ROOTFS,
      packages: DEBIAN_PACKAGES.join(", "),
      installed: image.packages?.length ?? "?",
      imageMiB: mib(image.bytes),
      chunks: first
        ? prose.section("root-chunks", {
            chunks: first.coverage.chunks,
            distinct: first.coverage.distinct.chunks,
            distinctMiB: mib(first.coverage.distinct.bytes),
          })
        : "",
      initramfsMiB: mib(debian.initramfs.bytes),
      listed: debian.prefetchList ?? "?",
      loads: loads.join("; "),
      rounds,
      repeat: REPEAT,
      work,
      workFs: fsType(cache),
      failed: failed.length
        ? prose.section("failed-boots", {
            boots: failed.map((b) => `round ${b.round} ${b.kind} (${b.failed})`).join(", "),
          })
        : "",
      qemu: command,
    }),
    "",
  );

  const markerRows = [
    "| boot | best | median | every round | poweroff (median) |",
    "|---|---:|---:|---|---:|",
  ];
  for (const [kind, label] of Object.entries(KINDS)) {
    const bs = of(kind);
    if (bs.length === 0) continue;
    const t = bs.map((b) => b.markerMs);
    markerRows.push(
      `| ${label} | ${sec(Math.min(...t))} | ${sec(median(t))} | ${bs.map((b) => `${sec(b.markerMs)} (r${b.round})`).join(", ")} | ${sec(median(bs.map((b) => b.exitMs - b.markerMs)))} |`,
    );
  }
  out.push(prose.section("marker", { table: markerRows.join("\n") }), "");

  const stepRows = [
    `| boot | ${DEBIAN_STEPS.map(([, label]) => label).join(" | ")} | systemd → marker (multi-user.target) | marker |`,
    `|---|${DEBIAN_STEPS.map(() => "---:").join("|")}|---:|---:|`,
  ];
  for (const [kind, label] of Object.entries(KINDS)) {
    if (of(kind).length === 0) continue;
    stepRows.push(
      `| ${label} | ${DEBIAN_STEPS.map(([key]) => sec(med(kind, (b) => b.steps[key]))).join(" | ")} | ${sec(med(kind, (b) => b.steps.marker))} | ${sec(med(kind, (b) => b.markerMs))} |`,
    );
  }
  out.push(prose.section("steps", { table: stepRows.join("\n") }), "");

  out.push(prose.section("cpu", { table: cpuTable(ok).join("\n") }), "");

  const chunkRows = [
    "| boot | chunk requests | distinct | MiB over the proxy | sent by the marker | guest read: requests | guest read MiB | chunks touched | MiB of chunks touched | fetched ÷ touched | on the cache disk after |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [kind, label] of Object.entries(KINDS)) {
    if (of(kind).length === 0) continue;
    chunkRows.push(
      `| ${label} | ${num(med(kind, (b) => b.http.chunkRequests))} | ${num(med(kind, (b) => b.http.distinctChunks))} | ${mib(med(kind, (b) => b.http.chunkBytes))} | ${num(med(kind, (b) => b.http.chunkRequestsToMarker))} | ${num(med(kind, (b) => b.guestRead?.reads))} | ${mib(med(kind, (b) => b.guestRead?.bytes))} | ${num(med(kind, (b) => b.touched?.chunks))} | ${mib(med(kind, (b) => b.touched?.bytes))} | ${x(med(kind, (b) => b.http.distinctChunks / b.touched?.chunks))} | ${num(med(kind, (b) => b.coverage.cached.chunks))} |`,
    );
  }
  out.push(prose.section("chunks", { table: chunkRows.join("\n") }), "");

  const bootRows = [
    "| round | boot | marker s | poweroff s | fetcher CPU s | chunk requests | sent after systemd's first line | last chunk response at s | chunks touched | guest read MiB | on the cache disk after |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const b of [...boots].sort((p, q) => p.round - q.round)) {
    if (b.failed) {
      bootRows.push(`| ${b.round} | ${KINDS[b.kind]} | failed: ${b.failed} | | | | | | | | |`);
      continue;
    }
    bootRows.push(
      `| ${b.round} | ${KINDS[b.kind]} | ${sec(b.markerMs)} | ${b.poweredOff ? sec(b.exitMs - b.markerMs) : "killed"} | ${cpuSec(b.cpu?.marker?.total)} | ${b.http.chunkRequests} | ${b.http.chunksAfterSystemd ?? "–"} | ${b.http.chunkRequests ? sec(b.http.lastChunkEndMs) : "–"} | ${b.touched?.chunks ?? "–"} | ${mib(b.guestRead?.bytes)} | ${b.coverage.cached.chunks} |`,
    );
  }
  out.push(prose.section("every-boot", { table: bootRows.join("\n") }), "");

  const targetRows = [
    "| target | measured (medians) | ratio | per round | met |",
    "|---|---|---:|---|---|",
  ];
  for (const t of debianTargets(ok)) {
    targetRows.push(
      `| ${t.label} | ${t.measured} | ${t.ratio} | ${t.perRound} | ${t.met ? "yes" : "NO"} |`,
    );
  }
  out.push(prose.section("targets", { table: targetRows.join("\n") }), "");
  out.push(prose.section("observations"), "", ...observations(ok, debian), "");
  if (profiled.length) out.push(profileSection(profiled), "");
  return `${out.join("\n")}\n`;
}

const cpuSec = (s) => (Number.isFinite(s) ? s.toFixed(2) : "–");

/**
 * The fetcher's CPU seconds per kind of boot (medians): up to listening (Node, the CLI, the
 * signed ref and manifest), on to the root's mount, on to the marker, the whole boot, and that
 * total's user and system parts.
 * @param {any[]} boots the boots that reached the marker
 */
function cpuTable(boots) {
  const rows = [
    "| boot | start → listening | → root mounted | → marker | per boot (at the marker) | user | sys | every round |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  const at = (b, when) => b.cpu?.[when]?.total ?? Number.NaN;
  for (const [kind, label] of Object.entries(KINDS)) {
    const bs = boots.filter((b) => b.kind === kind);
    if (bs.length === 0) continue;
    const med = (f) => cpuSec(median(bs.map(f)));
    rows.push(
      `| ${label} | ${med((b) => at(b, "listening"))} | ${med((b) => at(b, "root mounted") - at(b, "listening"))} | ${med((b) => at(b, "marker") - at(b, "root mounted"))} | **${med((b) => at(b, "marker"))}** | ${med((b) => b.cpu?.marker?.user ?? Number.NaN)} | ${med((b) => b.cpu?.marker?.sys ?? Number.NaN)} | ${bs.map((b) => `${cpuSec(at(b, "marker"))} (r${b.round})`).join(", ")} |`,
    );
  }
  return rows;
}

/**
 * Where the fetcher's CPU goes: the profiled boots' summaries by function (self time).
 * @param {any[]} profiled
 */
function profileSection(profiled) {
  const lines = [];
  for (const b of profiled) {
    const label = `${KINDS[b.kind]}, profiled: fetcher CPU ${cpuSec(b.cpu?.marker?.total)} s at the marker (${sec(b.markerMs)} s)`;
    if (b.profile.length === 0) lines.push(`- ${label}: no profile on the cache disk`);
    else lines.push(...profileLines([{ label, seconds: b.profile[0].total, threads: b.profile }]));
  }
  return prose.section("profiles", { profiles: lines.join("\n") });
}

/**
 * The three targets: prefetch time ÷ warm time, chunks fetched ÷ chunks touched (cold), and the
 * chunks a warm reboot fetched.
 * @param {any[]} boots the boots that reached the marker
 */
export function debianTargets(boots) {
  const of = (kind) => boots.filter((b) => b.kind === kind);
  const byRound = (kind, round) => boots.find((b) => b.kind === kind && b.round === round);
  const cold = of("cold");
  const warm = of("warm");
  const pre = of("prefetch");
  const targets = [];
  if (pre.length && warm.length) {
    const p = median(pre.map((b) => b.markerMs));
    const w = median(warm.map((b) => b.markerMs));
    const per = pre
      .map((b) => [b.round, byRound("warm", b.round)])
      .filter(([, w2]) => w2)
      .map(([round, w2]) => `${x(byRound("prefetch", round).markerMs / w2.markerMs)} (r${round})`);
    targets.push({
      key: "prefetchOverWarm",
      label: `cold + prefetch list ≤ ${DEBIAN_TARGETS.prefetchOverWarm}× the warm boot's time`,
      measured: `${sec(p)} s against ${sec(w)} s`,
      value: p / w,
      ratio: x(p / w),
      perRound: per.join(", "),
      met: p / w <= DEBIAN_TARGETS.prefetchOverWarm,
    });
  }
  if (cold.length) {
    const ratios = cold.map((b) => b.http.distinctChunks / b.touched?.chunks);
    const r = median(ratios);
    targets.push({
      key: "fetchedOverTouched",
      label: `chunks fetched ≤ ${DEBIAN_TARGETS.fetchedOverTouched}× the chunks the guest touched (cold)`,
      measured: `${num(median(cold.map((b) => b.http.distinctChunks)))} fetched, ${num(median(cold.map((b) => b.touched?.chunks)))} touched`,
      value: r,
      ratio: x(r),
      perRound: cold.map((b, i) => `${x(ratios[i])} (r${b.round})`).join(", "),
      met: r <= DEBIAN_TARGETS.fetchedOverTouched,
    });
  }
  if (warm.length) {
    const most = Math.max(...warm.map((b) => b.http.chunkRequests));
    targets.push({
      key: "warmChunks",
      label: "a warm reboot fetches no chunk",
      measured: `${warm.map((b) => b.http.chunkRequests).join(", ")} chunk requests`,
      value: most,
      ratio: `${most} chunks`,
      perRound: warm.map((b) => `${b.http.chunkRequests} (r${b.round})`).join(", "),
      met: most <= DEBIAN_TARGETS.warmChunks,
    });
  }
  return targets;
}

/**
 * What the figures say, computed: where the time goes, what was fetched beyond what was read, and
 * whether the cache disk kept what was fetched.
 * @param {any[]} boots the boots that reached the marker
 * @param {any} debian
 */
function observations(boots, debian) {
  const of = (kind) => boots.filter((b) => b.kind === kind);
  const med = (kind, f) => median(of(kind).map(f));
  const lines = [];
  const cold = of("cold");
  const warm = of("warm");
  const pre = of("prefetch");
  if (cold.length && warm.length) {
    const rootPhase = (b) => b.markerMs - (b.at.root ?? Number.NaN);
    const before = (b) => b.at.root ?? Number.NaN;
    lines.push(
      prose.section("observation-phases", {
        coldBefore: sec(med("cold", before)),
        warmBefore: sec(med("warm", before)),
        prefetchBefore: sec(med("prefetch", before)),
        fetcher: sec(med("cold", (b) => b.steps.fetcher)),
        coldRoot: sec(med("cold", rootPhase)),
        warmRoot: sec(med("warm", rootPhase)),
        prefetchRoot: sec(med("prefetch", rootPhase)),
        prefetchOverWarm: x(med("prefetch", rootPhase) / med("warm", rootPhase)),
      }),
    );
  }
  if (cold.length) {
    const touched = med("cold", (b) => b.touched?.chunks);
    const fetched = med("cold", (b) => b.http.distinctChunks);
    lines.push(
      prose.section("observation-fetched", {
        fetched: num(fetched),
        touched: num(touched),
        readAhead: num(fetched - touched),
        guestMiB: mib(med("cold", (b) => b.guestRead?.bytes)),
        touchedMiB: mib(med("cold", (b) => b.touched?.bytes)),
        touchedOverRead: x(med("cold", (b) => b.touched?.bytes / b.guestRead?.bytes)),
        networkMiB: mib(med("cold", (b) => b.http.chunkBytes)),
      }),
    );
    const kept = cold.map((b) => `${b.coverage.cached.chunks} of ${b.http.distinctChunks}`);
    const all = cold.every((b) => b.coverage.cached.chunks >= b.http.distinctChunks);
    lines.push(
      prose.section("observation-cache-disk", {
        kept: kept.join(", "),
        verdict: all
          ? "every chunk fetched was on the disk"
          : "some fetched chunks did not reach the disk",
      }),
    );
  }
  if (pre.length) {
    const fetched = med("prefetch", (b) => b.http.distinctChunks);
    const touched = median(pre.map((b) => b.touched?.chunks ?? Number.NaN));
    lines.push(
      prose.section("observation-prefetch", {
        listed: String(debian.prefetchList),
        fetched: num(fetched),
        comparison: fetched > touched ? "more than" : "no more than",
        beforeAttach: num(med("prefetch", (b) => b.http.chunksBeforeAttach)),
        afterSystemd: num(med("prefetch", (b) => b.http.chunksAfterSystemd)),
        lastResponse: sec(med("prefetch", (b) => b.http.lastChunkEndMs)),
        root: sec(med("prefetch", (b) => b.at.root)),
        systemd: sec(med("prefetch", (b) => b.at.systemd)),
      }),
    );
  }
  if (warm.length) {
    lines.push(
      prose.section("observation-warm", {
        fetched: warm.map((b) => b.http.chunkRequests).join(", "),
      }),
    );
  }
  return lines;
}
