// The Debian rows of bench/results/boot.md: the Debian root booted through the fetcher inside the
// guest (bench/lib/debian-boot.mjs), cold, warm and cold with the prefetch list, and the three
// targets of issue 13 as ratios within the run. Prose is kept in the arrays below, one line each.
import { spawnSync } from "node:child_process";
import { DEBIAN_PACKAGES } from "../../scripts/boot/debian.mjs";
import { DEBIAN_ROOTFS, DEBIAN_STEPS, GUEST } from "./debian-boot.mjs";
import { fsType, machineLines, REPEAT } from "./run.mjs";

/** The targets, each a ratio within one run. */
export const DEBIAN_TARGETS = { prefetchOverWarm: 1.3, fetchedOverTouched: 1.3, warmChunks: 0 };

const KINDS = {
  cold: "cold: empty cache disk",
  prefetch: "cold + prefetch list",
  warm: "warm: the cold boot's cache disk",
};

const INTRO = [
  "The guest fetches its own root: qemu boots Debian's cloud kernel with the initramfs of",
  "`edgeboot initramfs --trust` (Node, the CLI and nbd-client inside); its /init brings eth0 up by",
  "DHCP, runs `edgeboot nbd --pin` against the edge (every chunk verified in the guest, the signed",
  "ref checked against the baked-in key), attaches /dev/nbd0 with the kernel's NBD client, and",
  "switches to the root under a tmpfs overlay; systemd then reaches multi-user.target, where a unit",
  "prints `/sys/block/nbd0/stat` and the marker and powers off. The guest's only way out is",
  "10.0.2.100:80 (user network, `restrict=on`, guestfwd → socat → the delay proxy's loopback port",
  "→ the edge in Miniflare). The chain is scripts/boot/netboot.mjs's (`prepareNetboot`); the boots",
  "here give qemu the kernel and initramfs (`-kernel`) rather than iPXE, so that the time measured",
  "is the fetcher's and the root's, not the firmware's.",
];

const COUNTS = [
  "*Chunk requests*: GETs of /v1/chunks/ through the proxy from qemu's start to its exit (the",
  "fetcher's downloads: compressed frames), and how many of them were sent before the marker.",
  "*Guest read*: `/sys/block/nbd0/stat` at the marker (read requests, sectors × 512), what the",
  "guest's block layer asked of /dev/nbd0, its own read-ahead included. *Touched*: the distinct",
  "chunks under those reads, from the fetcher's `--record` file (written on the cache disk, read",
  "back with debugfs after poweroff); the fetcher's read-ahead and prefetch are not in it.",
  "*On the cache disk*: chunk files on the edgeboot-cache disk after qemu exited, i.e. what a",
  "reboot can reuse.",
];

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
 * @param {{ debian: any, proxy: any, boots: any[], loads: string[], work: string,
 *   standalone: boolean, cache: string }} options `standalone`: no busybox report above it (adds
 *   the title and the machine lines)
 */
export function renderDebian({ debian, proxy, boots, loads, work, standalone, cache }) {
  const ok = boots.filter((b) => !b.failed);
  const failed = boots.filter((b) => b.failed);
  const of = (kind) => ok.filter((b) => b.kind === kind);
  const med = (kind, f) => median(of(kind).map(f));
  const rounds = Math.max(0, ...boots.map((b) => b.round));
  const out = [];
  if (standalone) {
    const qemu = spawnSync("qemu-system-x86_64", ["--version"]).stdout.toString().split("\n")[0];
    out.push(
      "# Boot benchmark: the Debian root through the in-guest fetcher, 50 ms from the edge",
      "",
      "Made by `npm run bench:boot` (bench/boot.mjs) with `EDGEBOOT_BENCH_BOOT=debian`. Compare only figures of one run.",
      "",
      ...machineLines([qemu]),
      "",
    );
  }
  const image = debian.image;
  const list = debian.prefetchList;
  const first = ok[0];
  out.push(
    "## Debian root: fetched inside the guest, cold, warm and prefetched, 50 ms from the edge",
    "",
    ...INTRO,
    "",
    `- guest: Debian's cloud kernel ${debian.kernel.version}, qemu TCG, ${GUEST.cpus} vCPUs, ${GUEST.memoryMiB} MiB; the edge behind bench/lib/delay-proxy.mjs (+${proxy.rttMs} ms per request, one more round trip per new connection)`,
    `- root: ${DEBIAN_ROOTFS}, Debian bookworm (scripts/boot/debian.mjs: mmdebstrap minbase + ${DEBIAN_PACKAGES.join(", ")}, ${image.packages?.length ?? "?"} packages installed, the kernel's modules), ext4 image of ${mib(image.bytes)} MiB, ${first ? `${first.coverage.chunks} chunks of 256 KiB (${first.coverage.distinct.chunks} distinct, ${mib(first.coverage.distinct.bytes)} MiB)` : ""}`,
    `- initramfs (\`edgeboot initramfs --trust\`, zstd): **${mib(debian.initramfs.bytes)} MiB**`,
    `- cache disk: a raw image made by \`mke2fs -t ext4 -L edgeboot-cache FILE 512M\`, attached as a virtio disk; cold and prefetch boots get a fresh one, the warm boot the one its round's cold boot left`,
    `- prefetch list: round 1's cold boot's record (\`edgeboot.record=\` on the kernel command line → \`edgeboot nbd --record\` in the guest, on the cache disk), the image republished as ${DEBIAN_ROOTFS}-prefetch with \`--profile\`: ${list ?? "?"} entries`,
    `- load average (1, 5, 15 min): ${loads.join("; ")}`,
    `- rounds: ${rounds} of ${REPEAT}, interleaved (cold, warm, prefetch; then prefetch, cold, warm; then cold, prefetch, warm); \`$WORK\` is \`${work}\` (${fsType(cache)})${failed.length ? `; failed boots: ${failed.map((b) => `round ${b.round} ${b.kind} (${b.failed})`).join(", ")}` : ""}`,
    "",
    "```sh",
    "# the chain (scripts/boot/netboot.mjs prepareNetboot): keygen, initramfs, publish signed",
    "node bin/edgeboot.js initramfs -o $WORK/debian/initrd.img --modules-dir $KERNEL/lib/modules/VERSION --trust $WORK/debian/publisher.key.pub",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish debian-a.img --name debian-a --edge $EDGE --key $WORK/debian/publisher.key --kernel … --initrd … --cmdline …",
    "# the prefetch list: round 1's cold record, read back from its cache disk",
    "debugfs -R 'rdump /edgeboot $WORK/debian/r1-cold-disk' $WORK/debian/r1-cold-cache.img",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish debian-a.img --name debian-a-prefetch --edge $EDGE --key … --profile $WORK/debian/profile-debian-a-prefetch.json",
    "# each boot (the command line as the edge's boot script writes it, plus edgeboot.record=)",
    first
      ? first.args
          .map((a) => (/[\s,]/.test(a) ? `'${a}'` : a))
          .join(" ")
          .replaceAll(work, "$WORK")
          .replace(/qemu-system-x86_64 |^/, "qemu-system-x86_64 ")
          .replace(/edgeboot\.sig=\S+/, "edgeboot.sig=…")
          .replace(/\/\S+\/vmlinuz/, "$KERNEL/vmlinuz")
          .replace(/TCP:127\.0\.0\.1:\d+/, "TCP:127.0.0.1:$PROXY_PORT")
      : "",
    "```",
    "",
  );

  out.push("### Seconds to the marker", "");
  out.push(
    "From qemu's start to the marker line (multi-user.target reached). *Poweroff*: from the marker to qemu's exit (the cache disk is synced by then).",
    "",
    "| boot | best | median | every round | poweroff (median) |",
    "|---|---:|---:|---|---:|",
  );
  for (const [kind, label] of Object.entries(KINDS)) {
    const bs = of(kind);
    if (bs.length === 0) continue;
    const t = bs.map((b) => b.markerMs);
    out.push(
      `| ${label} | ${sec(Math.min(...t))} | ${sec(median(t))} | ${bs.map((b) => `${sec(b.markerMs)} (r${b.round})`).join(", ")} | ${sec(median(bs.map((b) => b.exitMs - b.markerMs)))} |`,
    );
  }
  out.push("");

  out.push("### Steps (median seconds, from the console)", "");
  out.push(
    "Each step runs from the line that ended the previous one (qemu's start for the first) to the line that ends it.",
    "",
    `| boot | ${DEBIAN_STEPS.map(([, label]) => label).join(" | ")} | systemd → marker (multi-user.target) | marker |`,
    `|---|${DEBIAN_STEPS.map(() => "---:").join("|")}|---:|---:|`,
  );
  for (const [kind, label] of Object.entries(KINDS)) {
    if (of(kind).length === 0) continue;
    out.push(
      `| ${label} | ${DEBIAN_STEPS.map(([key]) => sec(med(kind, (b) => b.steps[key]))).join(" | ")} | ${sec(med(kind, (b) => b.steps.marker))} | ${sec(med(kind, (b) => b.markerMs))} |`,
    );
  }
  out.push("");

  out.push("### Chunks and bytes: fetched from the edge against read by the guest (medians)", "");
  out.push(
    ...COUNTS,
    "",
    "| boot | chunk requests | distinct | MiB over the proxy | sent by the marker | guest read: requests | guest read MiB | chunks touched | MiB of chunks touched | fetched ÷ touched | on the cache disk after |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [kind, label] of Object.entries(KINDS)) {
    if (of(kind).length === 0) continue;
    out.push(
      `| ${label} | ${num(med(kind, (b) => b.http.chunkRequests))} | ${num(med(kind, (b) => b.http.distinctChunks))} | ${mib(med(kind, (b) => b.http.chunkBytes))} | ${num(med(kind, (b) => b.http.chunkRequestsToMarker))} | ${num(med(kind, (b) => b.guestRead?.reads))} | ${mib(med(kind, (b) => b.guestRead?.bytes))} | ${num(med(kind, (b) => b.touched?.chunks))} | ${mib(med(kind, (b) => b.touched?.bytes))} | ${x(med(kind, (b) => b.http.distinctChunks / b.touched?.chunks))} | ${num(med(kind, (b) => b.coverage.cached.chunks))} |`,
    );
  }
  out.push("");

  out.push("### Every boot", "");
  out.push(
    "| round | boot | marker s | poweroff s | chunk requests | sent after systemd's first line | last chunk response at s | chunks touched | guest read MiB | on the cache disk after |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const b of [...boots].sort((p, q) => p.round - q.round)) {
    if (b.failed) {
      out.push(`| ${b.round} | ${KINDS[b.kind]} | failed: ${b.failed} | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${b.round} | ${KINDS[b.kind]} | ${sec(b.markerMs)} | ${b.poweredOff ? sec(b.exitMs - b.markerMs) : "killed"} | ${b.http.chunkRequests} | ${b.http.chunksAfterSystemd ?? "–"} | ${b.http.chunkRequests ? sec(b.http.lastChunkEndMs) : "–"} | ${b.touched?.chunks ?? "–"} | ${mib(b.guestRead?.bytes)} | ${b.coverage.cached.chunks} |`,
    );
  }
  out.push("");

  const targets = debianTargets(ok);

  out.push("## Targets: the Debian root through the in-guest fetcher", "");
  out.push(
    "Each a ratio within this run: medians, and per round (a round's boots against each other).",
    "",
    "| target | measured (medians) | ratio | per round | met |",
    "|---|---|---:|---|---|",
  );
  for (const t of targets) {
    out.push(
      `| ${t.label} | ${t.measured} | ${t.ratio} | ${t.perRound} | ${t.met ? "yes" : "NO"} |`,
    );
  }
  out.push("");
  out.push("## Observations on the Debian rows (computed)", "", ...observations(ok, debian), "");
  return `${out.join("\n")}\n`;
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
      `- Up to the root's mount (kernel, /init, DHCP, Node starting the fetcher, the ref and manifest; the same work in every kind of boot, so differences there are the host's load): ${sec(med("cold", before))} s cold, ${sec(med("warm", before))} s warm, ${sec(med("prefetch", before))} s with the list (medians); starting the fetcher alone took ${sec(med("cold", (b) => b.steps.fetcher))} s cold (Node under TCG). From the mount to the marker: ${sec(med("cold", rootPhase))} s cold, ${sec(med("warm", rootPhase))} s warm, ${sec(med("prefetch", rootPhase))} s with the list (${x(med("prefetch", rootPhase) / med("warm", rootPhase))} of warm).`,
    );
  }
  if (cold.length) {
    const touched = med("cold", (b) => b.touched?.chunks);
    const fetched = med("cold", (b) => b.http.distinctChunks);
    lines.push(
      `- A cold boot fetched ${num(fetched)} chunks for ${num(touched)} touched (${num(fetched - touched)} read ahead and never read); the guest read ${mib(med("cold", (b) => b.guestRead?.bytes))} MiB from /dev/nbd0, which lie in ${mib(med("cold", (b) => b.touched?.bytes))} MiB of 256 KiB chunks (${x(med("cold", (b) => b.touched?.bytes / b.guestRead?.bytes))}): the chunk size, not read-ahead, is what multiplies the bytes; ${mib(med("cold", (b) => b.http.chunkBytes))} MiB crossed the network compressed.`,
    );
    const kept = cold.map((b) => `${b.coverage.cached.chunks} of ${b.http.distinctChunks}`);
    lines.push(
      `- The cache disk after each cold boot's poweroff held ${kept.join(", ")} fetched chunks (read back from the image with debugfs): ${cold.every((b) => b.coverage.cached.chunks >= b.http.distinctChunks) ? "every chunk fetched was on the disk" : "some fetched chunks did not reach the disk"}.`,
    );
  }
  if (pre.length) {
    const list = debian.prefetchList;
    const fetched = med("prefetch", (b) => b.http.distinctChunks);
    lines.push(
      `- With the list (${list} entries, some the same chunk): ${num(fetched)} distinct chunks fetched (median), ${fetched > median(pre.map((b) => b.touched?.chunks ?? Number.NaN)) ? "more than" : "no more than"} the chunks the guest touched; ${num(med("prefetch", (b) => b.http.chunksBeforeAttach))} requested before /dev/nbd0 was attached, ${num(med("prefetch", (b) => b.http.chunksAfterSystemd))} after systemd's first line; the last chunk response came ${sec(med("prefetch", (b) => b.http.lastChunkEndMs))} s after qemu's start, the root was mounted at ${sec(med("prefetch", (b) => b.at.root))} s and systemd started at ${sec(med("prefetch", (b) => b.at.systemd))} s.`,
    );
  }
  if (warm.length) {
    lines.push(
      `- Warm boots fetched ${warm.map((b) => b.http.chunkRequests).join(", ")} chunks: every other chunk came from the cache disk (read, decoded and checked against its id in the guest).`,
    );
  }
  return lines;
}
