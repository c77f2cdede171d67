#!/usr/bin/env node
// Boot benchmark: a real Linux guest (qemu, TCG) boots from the edge through `edgeboot nbd` with the
// edge behind a delaying loopback proxy (50 ms round trip per request), with a cold cache, a warm
// cache, and a cold cache plus the manifest's prefetch list made from a recorded boot.
//
//   npm run bench:boot
//
// Builds the CLI and the Worker, the kernel, initramfs and root filesystems of scripts/boot (alpha,
// the demo's) plus a bigger one whose boot reads many small files in scattered order
// (bench/lib/boot-images.mjs), publishes them to the Worker in Miniflare, records one boot of each
// and republishes it with --profile, then boots each image cold / warm / cold with prefetch / from
// nbdkit (local file, no network) in interleaved rounds. Writes bench/results/boot.md. Not a test:
// it asserts nothing beyond each boot reaching its marker.
//
// Environment: EDGEBOOT_BENCH_RTT_MS (round trip the proxy adds, default 50),
// EDGEBOOT_BENCH_REPEAT (rounds, default 3), EDGEBOOT_BENCH_BUDGET_S (no new round after this
// many seconds, default 200), EDGEBOOT_BENCH_CACHE (work directory parent); for variants by hand,
// EDGEBOOT_BENCH_NBD_ARGS (added to every `edgeboot nbd`, e.g. "--jobs 32") and
// EDGEBOOT_BENCH_BOOT_REPORT (write the report there instead of bench/results/boot.md).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { staticBusybox } from "../scripts/boot/busybox.mjs";
import {
  cacheUsage,
  edgeboot,
  imageCoverage,
  publishImage,
  recordedReads,
  startNbd,
} from "../scripts/boot/cli.mjs";
import { buildAll, startLocalEdge } from "../scripts/boot/edge.mjs";
import { buildInitramfs, INITRAMFS_FAILURE } from "../scripts/boot/initramfs.mjs";
import { obtainKernel } from "../scripts/boot/kernel.mjs";
import { bootGuest, lineTime } from "../scripts/boot/qemu.mjs";
import { bootMarker, buildRootfs, DATA_FAILURE, ROOTFS_VARIANTS } from "../scripts/boot/rootfs.mjs";
import { requireTools } from "../scripts/boot/tools.mjs";
import { buildScatterRootfs, SCATTER } from "./lib/boot-images.mjs";
import { startDelayProxy } from "./lib/delay-proxy.mjs";
import {
  CACHE,
  elapsed,
  ensureTool,
  freePort,
  fsType,
  log,
  machineLines,
  notesMarker,
  REPEAT,
  ROOT,
  writeResults,
} from "./lib/run.mjs";

const WORK = join(CACHE, "boot-runs");
const RESULTS = process.env.EDGEBOOT_BENCH_BOOT_REPORT ?? join(ROOT, "bench", "results", "boot.md");
/** Extra arguments for every `edgeboot nbd` (by-hand variants, e.g. "--jobs 32"). */
const NBD_ARGS = (process.env.EDGEBOOT_BENCH_NBD_ARGS ?? "").split(/\s+/).filter(Boolean);
const BUDGET_S = Number(process.env.EDGEBOOT_BENCH_BUDGET_S ?? 200);
const TARGET = 3;
const BOOT_TIMEOUT_MS = 90_000;

const KINDS = {
  cold: "cold cache, on demand",
  warm: "warm cache (server restarted)",
  prefetch: "cold cache + prefetch list",
  peer: "peer: nbdkit -r file (local, no network)",
};

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];

// ---------------------------------------------------------------------------------------------
// Servers

/** `nbdkit -r file IMAGE` on a free loopback port; resolves once it accepts connections. */
async function startNbdkit(image) {
  const port = await freePort();
  const argv = ["nbdkit", "-r", "-f", "-i", "127.0.0.1", "-p", String(port), "file", image];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: "127.0.0.1",
    port,
    argv,
    close: async () => {
      process.removeListener("exit", kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One boot

/**
 * The console lines that split a boot into phases, in order: [key, label of the phase that starts
 * there, when it starts]. The last phase ends at the marker.
 */
const PHASES = [
  ["start", "qemu start → kernel's first line", () => 0],
  ["kernel", "kernel → /init", (r) => lineTime(r, "Linux version")],
  ["init", "/init (modules) → root disk found", (r) => lineTime(r, "Run /init as init process")],
  ["mount", "root disk found → root mounted", (r) => diskTime(r)],
  ["exec", "root mounted → rootfs init's first line", (r) => lineTime(r, "mounted read-only")],
  ["run", "rootfs init → marker", (r) => r.rootInitMs],
];

/** When virtio_blk announced the root disk (its partition scan reads it next). */
function diskTime(result) {
  return result.lines.find((l) => /virtio_blk virtio\d+: \[vda\]/.test(l.text))?.ms;
}

/** How long at least one of `intervals` ([start, end]) was open between `from` and `to`. */
function busyWithin(intervals, from, to) {
  let busy = 0;
  let reached = from;
  for (const [start, end] of [...intervals].sort((a, b) => a[0] - b[0])) {
    const a = Math.max(start, reached);
    const b = Math.min(end, to);
    if (b > a) busy += b - a;
    reached = Math.max(reached, Math.min(end, to));
  }
  return busy;
}

/** The console timestamps of one boot, as phase durations in ms. */
function phasesOf(result, name) {
  result.rootInitMs = lineTime(result, `edgeboot rootfs ${name}:`);
  const points = [0, ...PHASES.slice(1).map(([, , at]) => at(result)), result.markerMs];
  const phases = {};
  for (const [index, [key]] of PHASES.entries()) phases[key] = points[index + 1] - points[index];
  const disk = diskTime(result);
  return { phases, diskMs: disk, rootfsMs: result.markerMs - disk, wholeMs: result.markerMs };
}

/**
 * Boots `image` once as `kind`: on a fresh cache (cold, prefetch), on the cache of this round's
 * cold boot (warm), or from nbdkit (peer). `record`: the file edgeboot nbd --record writes.
 */
async function bootOnce(ctx, image, kind, round, { record } = {}) {
  const { kernel, initrd, proxy, edge } = ctx;
  const cacheDir = join(WORK, `r${round}-${image.name}-${kind === "warm" ? "cold" : kind}-cache`);
  if (kind !== "warm") rmSync(cacheDir, { recursive: true, force: true });
  const name = kind === "prefetch" ? `${image.name}-prefetch` : image.name;
  const server =
    kind === "peer"
      ? await startNbdkit(image.path)
      : await startNbd({ edge: proxy.url, cacheDir, record, args: NBD_ARGS });
  const mark = proxy.mark();
  const t0 = performance.now();
  let result;
  try {
    result = await bootGuest({
      kernel: kernel.vmlinuz,
      initrd,
      nbd: { host: server.host, port: server.port, exportName: name },
      marker: bootMarker(image.name),
      failures: [INITRAMFS_FAILURE, DATA_FAILURE],
      timeoutMs: BOOT_TIMEOUT_MS,
    });
  } finally {
    await server.close();
  }
  const http = proxy.since(mark);
  const said = kind === "peer" ? "" : server.stderr();
  const boot = { kind, round, name, args: result.args, ...phasesOf(result, image.name) };
  writeFileSync(
    join(WORK, `console-r${round}-${image.name}-${kind}${record ? "-record" : ""}.txt`),
    [
      ...result.lines.map((l) => [l.ms, `   ${l.text}`]),
      ...http.log.map((h) => [
        h.startMs - t0,
        `>> ${h.method} ${h.path} ${h.status} ${h.bytes} B, ${(h.endMs - h.startMs).toFixed(0)} ms${h.newConnection ? " (new connection)" : ""}`,
      ]),
    ]
      .sort((a, b) => a[0] - b[0])
      .map(([ms, text]) => `${(ms / 1000).toFixed(3).padStart(8)} ${text}`)
      .join("\n"),
  );
  if (kind === "peer") return boot;
  const chunks = http.log.filter((h) => h.path.startsWith("/v1/chunks/"));
  const at = (h) => h.startMs - t0;
  boot.http = {
    requests: http.requests,
    chunkRequests: chunks.length,
    duplicates: chunks.length - new Set(chunks.map((h) => h.path)).size,
    bytes: http.bytes,
    connections: http.connections,
    peak: http.peakInFlight,
    chunksBeforeDisk: chunks.filter((h) => at(h) < boot.diskMs).length,
    chunksDoneBeforeDisk: chunks.filter((h) => h.endMs - t0 < boot.diskMs).length,
    chunksAfterDisk: chunks.filter((h) => at(h) >= boot.diskMs).length,
    lastChunkEndMs: Math.max(0, ...chunks.map((h) => h.endMs - t0)),
    busyMs: busyWithin(
      chunks.map((h) => [at(h), h.endMs - t0]),
      boot.diskMs,
      boot.wholeMs,
    ),
    startRequests: http.log.filter((h) => at(h) < lineTime(result, "Linux version")).length,
  };
  const prefetched = /prefetched (\d+) chunks of manifest \w+ in ([\d.]+) s/.exec(said);
  if (prefetched) boot.prefetch = { chunks: Number(prefetched[1]), seconds: Number(prefetched[2]) };
  boot.usage = await cacheUsage(cacheDir);
  boot.coverage = await imageCoverage({ edge: edge.url, name, cacheDir });
  if (record) {
    const reads = (await recordedReads(record))[name];
    boot.read = (await imageCoverage({ edge: edge.url, name, cacheDir, reads })).read;
  }
  return boot;
}

// ---------------------------------------------------------------------------------------------
// Main

function logBoot(boot, note = "") {
  log(
    `round ${boot.round} ${boot.image} ${boot.kind}${note}: marker ${(boot.wholeMs / 1000).toFixed(2)} s, root fs phase ${(boot.rootfsMs / 1000).toFixed(2)} s` +
      (boot.http ? `, ${boot.http.chunkRequests} chunk requests` : ""),
  );
}

const loads = [];
const loadAverage = (when) =>
  loads.push(
    `${when} ${loadavg()
      .map((v) => v.toFixed(2))
      .join(" ")}`,
  );

async function main() {
  loadAverage("at the start");
  requireTools(["qemu-system-x86_64", "busybox", "mke2fs", "debugfs", "apt-get", "dpkg-deb"]);
  await staticBusybox();
  const peerNote = ensureTool("nbdkit", "nbdkit");
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  const kernel = await obtainKernel({ log });
  log(`kernel ${kernel.version}; building the CLI and the Worker (scripts/boot/edge.mjs)`);
  const script = await buildAll(join(WORK, "worker"));
  const initrd = (
    await buildInitramfs({ out: join(WORK, "initramfs.cpio.gz"), modulesDir: kernel.modulesDir })
  ).path;
  log("building the root filesystems");
  const alpha = await buildRootfs({ ...ROOTFS_VARIANTS.alpha, out: join(WORK, "alpha.img") });
  const scatter = await buildScatterRootfs(join(WORK, `${SCATTER.name}.img`));
  const images = [
    {
      name: "alpha",
      path: alpha.path,
      bytes: alpha.bytes,
      description: ROOTFS_VARIANTS.alpha.description,
      made: "scripts/boot/rootfs.mjs `buildRootfs(ROOTFS_VARIANTS.alpha)` (the demo's rootfs)",
    },
    {
      name: SCATTER.name,
      path: scatter.path,
      bytes: scatter.bytes,
      description: scatter.description,
      made: "bench/lib/boot-images.mjs `buildScatterRootfs()`",
      readFiles: scatter.readFiles,
      readBytes: scatter.readBytes,
    },
  ];

  const edge = await startLocalEdge(script);
  cleanups.push(() => edge.close());
  const proxy = await startDelayProxy({ upstream: edge.url });
  cleanups.push(() => proxy.close());
  log(`edge ${edge.url} (Miniflare) behind the delay proxy ${proxy.url} (+${proxy.rttMs} ms)`);
  const ctx = { kernel, initrd, proxy, edge };

  for (const image of images) {
    const t = performance.now();
    image.publish = await publishImage({
      edge: edge.url,
      token: edge.token,
      image: image.path,
      name: image.name,
    });
    log(`published ${image.name} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }

  const boots = [];
  // Round 1's cold boot of each image is recorded (--record), and the image published again as
  // NAME-prefetch with that profile (renamed in the file: it names the export the boot used).
  for (const image of images) {
    const record = join(WORK, `record-${image.name}.json`);
    log(`recording a cold boot of ${image.name}`);
    image.recordBoot = await bootOnce(ctx, image, "cold", 1, { record });
    image.recordBoot.image = image.name;
    boots.push(image.recordBoot);
    logBoot(image.recordBoot, " (recorded)");
    const profile = JSON.parse(readFileSync(record, "utf8"));
    for (const entry of profile.images) entry.name = `${image.name}-prefetch`;
    const renamed = join(WORK, `profile-${image.name}-prefetch.json`);
    writeFileSync(renamed, `${JSON.stringify(profile)}\n`);
    const t = performance.now();
    image.republish = await edgeboot(
      [
        ...["publish", image.path, "--name", `${image.name}-prefetch`, "--edge", edge.url],
        ...["--profile", renamed],
      ],
      { EDGEBOOT_TOKEN: edge.token },
    );
    log(
      `published ${image.name}-prefetch with the profile in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }

  const orders = [
    ["cold", "warm", "prefetch", "peer"],
    ["prefetch", "peer", "cold", "warm"],
    ["peer", "cold", "warm", "prefetch"],
  ];
  for (let round = 1; round <= REPEAT; round++) {
    if (round > 1 && elapsed() > BUDGET_S) {
      log(`time budget spent (${BUDGET_S} s): skipping rounds ${round}-${REPEAT}`);
      break;
    }
    for (const image of images) {
      for (const kind of orders[(round - 1) % orders.length]) {
        if ((kind === "peer" && peerNote) || (kind === "cold" && round === 1)) continue;
        const boot = await bootOnce(ctx, image, kind, round);
        boot.image = image.name;
        boots.push(boot);
        logBoot(boot);
      }
    }
  }

  loadAverage("at the end");
  const report = render({ images, boots, proxy, edge, peerNote, kernel });
  writeResults(RESULTS, report, notesMarker("bench/boot.mjs"));
  process.stdout.write(report);
  log(`wrote ${RESULTS}`);
}

// ---------------------------------------------------------------------------------------------
// Report

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (ms === undefined || Number.isNaN(ms) ? "–" : (ms / 1000).toFixed(2));
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`;
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}×` : "–");

function render({ images, boots, proxy, peerNote, kernel }) {
  const qemu = spawnSync("qemu-system-x86_64", ["--version"]).stdout.toString().split("\n")[0];
  const nbdkit = spawnSync("nbdkit", ["--version"]).stdout?.toString().trim() || "no nbdkit";
  const rounds = Math.max(...boots.map((b) => b.round));
  const places = (text) =>
    text
      .replaceAll(WORK, "$WORK")
      .replaceAll(proxy.url, "$PROXY")
      .replaceAll(CACHE, "$CACHE")
      .replaceAll(kernel.root, "$KERNEL");
  const of = (image, kind) => boots.filter((b) => b.image === image && b.kind === kind);
  const out = [
    "# Boot benchmark: cold, warm and prefetched boots through edgeboot nbd, 50 ms from the edge",
    "",
    "Made by `npm run bench:boot` (bench/boot.mjs). Compare only figures of one run.",
    "",
    ...machineLines([qemu, nbdkit]),
    `- guest: Debian's cloud kernel ${kernel.version}, qemu TCG (software emulation, 1 vCPU, 256 MiB), the initramfs and root filesystems of scripts/boot; every boot checks what it read by SHA-256 before it prints its marker`,
    `- edge: the Worker in Miniflare (in-memory R2) on 127.0.0.1, behind bench/lib/delay-proxy.mjs: +${proxy.rttMs} ms per request (half before forwarding, half before the response), one more round trip for each new connection, requests overlap, bandwidth unlimited`,
    `- load average (1, 5, 15 min): ${loads.join("; ")}; the machine is shared, and under TCG the guest's speed follows whatever else runs`,
    `- rounds: ${rounds} of ${REPEAT}, interleaved (each round boots every image in every way, in a rotated order; round 1's cold boot of each image is the recorded one, before NAME-prefetch exists); best and median shown; \`$WORK\` is \`${WORK}\` (${fsType(CACHE)})`,
    "",
  ];

  out.push("## Images", "");
  out.push(
    "| image | size MiB | chunks (distinct) | distinct chunk bytes MiB | stored (zstd) MiB | read by the recorded boot | how made |",
    "|---|---:|---:|---:|---:|---|---|",
  );
  for (const image of images) {
    const c = image.recordBoot.coverage;
    const stored = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.publish);
    const read = image.recordBoot.read;
    out.push(
      `| ${image.name} | ${mib(c.size)} | ${c.chunks} (${c.distinct.chunks}) | ${mib(c.distinct.bytes)} | ${stored?.[2] ?? "–"} | ${read ? `${read.chunks} chunks, ${mib(read.bytes)} MiB` : "–"} | ${image.made} |`,
    );
  }
  out.push("");
  for (const image of images) out.push(`- ${image.name}: ${image.description}`);
  out.push(
    "- chunking: the publish default, fixed 256 KiB, zstd level 3. *Read by the recorded boot*: the distinct chunks under the guest's reads as `edgeboot nbd --record` saw them (read-ahead and prefetch not counted).",
    "",
  );

  out.push("## Commands", "", "```sh");
  const first = boots.find((b) => b.kind === "cold");
  out.push(
    "# once per image: publish it, record a cold boot (through the proxy) …",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish $WORK/IMAGE.img --name NAME --edge $EDGE",
    "node bin/edgeboot.js nbd $PROXY --listen 127.0.0.1:0 --cache-dir $WORK/r1-NAME-cold-cache --record $WORK/record-NAME.json",
    "# … and publish the same image as NAME-prefetch with that profile (its image renamed NAME-prefetch",
    "# in the file), so that on-demand and prefetch boots can alternate; no chunk is uploaded",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish $WORK/IMAGE.img --name NAME-prefetch --edge $EDGE --profile $WORK/profile-NAME-prefetch.json",
    "# each boot: a server (cold and prefetch: fresh --cache-dir; warm: the round's cold one, new process) …",
    `node bin/edgeboot.js nbd $PROXY --listen 127.0.0.1:0 --cache-dir $WORK/rN-NAME-KIND-cache${NBD_ARGS.length ? ` ${NBD_ARGS.join(" ")}` : ""}`,
    "nbdkit -r -f -i 127.0.0.1 -p PORT file $WORK/IMAGE.img   # the peer",
    "# … and the guest (export NAME, or NAME-prefetch for the prefetch boots)",
    places(
      `qemu-system-x86_64 ${first.args.map((a) => (/[\s,]/.test(a) && !a.startsWith("file=") ? `'${a}'` : a)).join(" ")}`,
    ).replace(/nbd:\/\/127\.0\.0\.1:\d+\/\S+?,/, "nbd://127.0.0.1:PORT/NAME,"),
    "```",
    "",
  );
  for (const image of images) {
    const line = /prefetch\s+(\d+) chunks/.exec(image.republish);
    const upload = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.republish);
    out.push(
      `- publishing ${image.name}-prefetch with the profile: prefetch list of ${line?.[1] ?? "?"} chunks, ${upload?.[1] ?? "?"} new chunks (${upload?.[2] ?? "?"} MiB) uploaded`,
    );
  }
  out.push(
    `- \`edgeboot nbd\` defaults: \`--jobs\` ${Math.max(8, availableParallelism() * 4)} here (max(8, 4 × cores)) requests in flight, read-ahead of 8 chunks, the prefetch list loaded \`--jobs\` at once from the first connection (qemu connects at its start, before the firmware runs)${NBD_ARGS.length ? `; this run added \`${NBD_ARGS.join(" ")}\` to every \`edgeboot nbd\`` : ""}`,
    "",
  );

  out.push("## Boot times (seconds)", "");
  out.push(
    "Whole boot = qemu's start to the marker line on the serial console. Root fs phase = from the",
    "kernel line announcing the root disk (`virtio_blk virtio0: [vda] …`; the partition scan reads it",
    "right after, then the initramfs mounts it) to the marker: the part of the boot that reads the",
    "root filesystem. Everything before it is the same in every case except qemu's NBD handshake (the",
    "ref and manifest, fetched when qemu connects at its start: *start requests*). Chunk requests",
    "and MB: through the proxy during that boot (chunk frames, compressed). *Edge busy*: how long at",
    "least one chunk request was in flight during the root fs phase (an upper bound on the time the",
    "guest waited for the edge; read-ahead can keep requests in flight that nobody waits for).",
    "",
    "| image | boot | whole: best | median | rounds | root fs phase: best | median | rounds | chunk requests (median) | MB over the proxy | start requests | edge busy in root fs phase |",
    "|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const whole = bs.map((b) => b.wholeMs);
      const fs = bs.map((b) => b.rootfsMs);
      const http = bs.filter((b) => b.http);
      out.push(
        `| ${image.name} | ${label} | ${sec(Math.min(...whole))} | ${sec(median(whole))} | ${whole.map(sec).join(", ")} | ${sec(Math.min(...fs))} | ${sec(median(fs))} | ${fs.map(sec).join(", ")} | ${http.length ? median(http.map((b) => b.http.chunkRequests)) : "–"} | ${http.length ? (median(http.map((b) => b.http.bytes)) / 1e6).toFixed(1) : "–"} | ${http.length ? median(http.map((b) => b.http.startRequests)) : "–"} | ${http.length ? sec(median(http.map((b) => b.http.busyMs))) : "–"} |`,
      );
    }
  }
  out.push("");

  out.push("## Phases (median seconds, from the console's timestamps)", "");
  out.push(
    `| image | boot | ${PHASES.map(([, label]) => label).join(" | ")} | whole |`,
    `|---|---|${PHASES.map(() => "---:").join("|")}|---:|`,
  );
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      out.push(
        `| ${image.name} | ${label} | ${PHASES.map(([key]) => sec(median(bs.map((b) => b.phases[key])))).join(" | ")} | ${sec(median(bs.map((b) => b.wholeMs)))} |`,
      );
    }
  }
  out.push("");

  out.push(`## Targets: prefetch list at least ${TARGET}× faster than on-demand, cold cache`, "");
  out.push(
    "Ratio = on-demand cold time ÷ prefetch cold time: of the medians, of the bests, and per round",
    "(each prefetch boot against the on-demand boot of its round). Warm and the nbdkit peer show the",
    "floor a prefetch boot could reach; *bound* = cold on-demand ÷ nbdkit (the image read locally,",
    "no network at all): the most any prefetch could gain on this machine.",
    "",
    "| image | measure | cold, on demand (median) | cold + prefetch (median) | warm (median) | nbdkit (median) | ratio of medians | ratio of bests | per round | bound: cold ÷ nbdkit | target met |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
  );
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
      out.push(
        `| ${image.name} | ${label} | ${sec(m("cold"))} | ${sec(m("prefetch"))} | ${sec(m("warm"))} | ${sec(m("peer"))} | ${r.toFixed(2)}× | ${rBest.toFixed(2)}× | ${per.join(", ")} | ${Number.isNaN(bound) ? "–" : `${bound.toFixed(2)}×`} | ${met ? "yes" : "NO"} |`,
      );
    }
  }
  out.push("");

  out.push("## Share of the image fetched", "");
  out.push(
    "From the cache directory after each boot (`edgeboot cache --cache-dir DIR` and the chunk files",
    "it holds, matched against the manifest): distinct chunks, their uncompressed bytes, and the",
    "compressed bytes on disk, which are the bytes that crossed the network. Medians of the rounds.",
    "",
    "| image | boot | chunks fetched | of distinct | bytes fetched (uncompressed) MiB | of image size | of distinct chunk bytes | compressed MiB | of image size |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const kind of ["cold", "prefetch"]) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const c = bs[0].coverage;
      const chunks = median(bs.map((b) => b.coverage.cached.chunks));
      const bytes = median(bs.map((b) => b.coverage.cached.bytes));
      const packed = median(bs.map((b) => b.usage.compressedMiB)) * 2 ** 20;
      out.push(
        `| ${image.name} | ${KINDS[kind]} | ${chunks} | ${pct(chunks, c.distinct.chunks)} | ${mib(bytes)} | ${pct(bytes, c.size)} | ${pct(bytes, c.distinct.bytes)} | ${mib(packed)} | ${pct(packed, c.size)} |`,
      );
    }
    const read = image.recordBoot.read;
    const c = image.recordBoot.coverage;
    if (read) {
      out.push(
        `| ${image.name} | read by the guest (recorded boot) | ${read.chunks} | ${pct(read.chunks, c.distinct.chunks)} | ${mib(read.bytes)} | ${pct(read.bytes, c.size)} | ${pct(read.bytes, c.distinct.bytes)} | – | – |`,
      );
    }
  }
  out.push("");

  out.push("## Prefetch timing", "");
  out.push(
    "When the prefetch list was done (edgeboot nbd's log: seconds from the first connection, which",
    "is qemu's start) against when the guest first needed the root disk (the `[vda]` line), and the",
    "chunk requests that went out after that line (what the guest may have waited for).",
    "",
    "| image | round | prefetch list | loaded in s | root disk found at s | chunk requests before it | after it | last chunk response at s | marker at s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const b of of(image.name, "prefetch")) {
      out.push(
        `| ${image.name} | ${b.round} | ${b.prefetch?.chunks ?? "–"} | ${b.prefetch ? b.prefetch.seconds.toFixed(1) : "–"} | ${sec(b.diskMs)} | ${b.http.chunksBeforeDisk} | ${b.http.chunksAfterDisk} | ${sec(b.http.lastChunkEndMs)} | ${sec(b.wholeMs)} |`,
      );
    }
  }
  out.push("");

  out.push("## Observations (computed)", "");
  for (const image of images) {
    const rec = image.recordBoot;
    const cold = of(image.name, "cold");
    const pre = of(image.name, "prefetch");
    if (image.readBytes && rec.read) {
      out.push(
        `- ${image.name}: /sbin/init read ${image.readFiles} files, ${mib(image.readBytes)} MiB of file data; with the metadata and busybox that touched ${rec.read.chunks} chunks of 256 KiB, ${mib(rec.read.bytes)} MiB (${(rec.read.bytes / image.readBytes).toFixed(1)}× the file bytes).`,
      );
    }
    if (rec.read && cold.length) {
      const fetched = median(cold.map((b) => b.coverage.cached.chunks));
      out.push(
        `- ${image.name}: the guest read ${rec.read.chunks} distinct chunks; a cold on-demand boot fetched ${fetched}: read-ahead added ${fetched - rec.read.chunks} (${pct(fetched - rec.read.chunks, rec.read.chunks)}) that the guest never read.`,
      );
    }
    if (pre.length) {
      const margins = pre.map((b) =>
        b.prefetch ? (b.diskMs / 1000 - b.prefetch.seconds).toFixed(1) : "?",
      );
      out.push(
        `- ${image.name}: the prefetch list (${pre[0].prefetch?.chunks ?? "?"} chunks) was loaded ${margins.join(", ")} s before the root disk appeared (rounds in order); a prefetch boot still sent ${median(pre.map((b) => b.http.chunksAfterDisk))} chunk requests after that (read-ahead of chunks not in the list).`,
      );
    }
    const dups = [...cold, ...pre].filter((b) => b.http?.duplicates > 0);
    if (dups.length) {
      out.push(
        `- ${image.name}: the same chunk was downloaded twice in ${dups.map((b) => `round ${b.round} ${b.kind} (${b.http.duplicates})`).join(", ")}.`,
      );
    }
  }
  for (const t of targets) {
    out.push(
      `- Target on ${t.image}, ${t.label}: ${t.met ? "met" : "missed"} (${t.ratio.toFixed(2)}× of medians, ${t.best.toFixed(2)}× of bests${Number.isNaN(t.bound) ? "" : `; even a local disk gives only ${t.bound.toFixed(2)}×`}).`,
    );
  }
  if (peerNote) out.push(`- ${peerNote}`);
  out.push("");
  return `${out.join("\n")}\n`;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`\nbench:boot failed: ${error instanceof Error ? error.stack : error}\n`);
  process.exitCode = 1;
} finally {
  for (const step of cleanups.reverse()) await step().catch(() => {});
}
process.exit();
