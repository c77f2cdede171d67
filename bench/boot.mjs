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
// Each boot and its measurements: bench/lib/boot-guest.mjs; the report: bench/lib/boot-report.mjs
// (its prose: bench/templates/boot.md).
//
// Then the Debian rows (bench/lib/debian-boot.mjs): a Debian bookworm root booted through the
// fetcher inside the guest (the chain of scripts/boot/netboot.mjs: `edgeboot initramfs --trust`,
// `edgeboot nbd --pin` in the guest), cold / warm (the edgeboot-cache disk of the round's cold boot)
// / cold with the prefetch list recorded by round 1's cold boot, interleaved in rounds; its report:
// bench/lib/debian-report.mjs (bench/templates/debian.md). Then a cold boot and its warm reboot
// with the guest's fetcher under the CPU profiler (edgeboot.cpuprof=), summarized by function.
//
// Environment: EDGEBOOT_BENCH_RTT_MS (round trip the proxy adds, default 50),
// EDGEBOOT_BENCH_REPEAT (rounds, default 3), EDGEBOOT_BENCH_BUDGET_S (the whole run's bound, default
// 2400: the busybox rounds stop after 15% of it when the Debian rows run too, and no Debian round
// starts that the last one's length says would end past it), EDGEBOOT_BENCH_CACHE (work directory
// parent). A reduced run for trying it out: EDGEBOOT_BENCH_BOOT=debian (or busybox) runs only
// those rows, with EDGEBOOT_BENCH_REPEAT=1 one round, and writes $CACHE/boot.md rather than
// bench/results/boot.md. For variants by hand, EDGEBOOT_BENCH_NBD_ARGS (added to every host-side
// `edgeboot nbd`, e.g. "--jobs 32") and EDGEBOOT_BENCH_BOOT_REPORT (write the report there);
// EDGEBOOT_BENCH_BOOT_PROFILE=0 skips the profiled Debian boots.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { staticBusybox } from "../scripts/boot/busybox.mjs";
import { edgeboot, publishImage } from "../scripts/boot/cli.mjs";
import { buildAll, startLocalEdge } from "../scripts/boot/edge.mjs";
import { buildInitramfs } from "../scripts/boot/initramfs.mjs";
import { obtainKernel } from "../scripts/boot/kernel.mjs";
import { buildRootfs, ROOTFS_VARIANTS } from "../scripts/boot/rootfs.mjs";
import { requireTools } from "../scripts/boot/tools.mjs";
import { bootOnce } from "./lib/boot-guest.mjs";
import { buildScatterRootfs, SCATTER } from "./lib/boot-images.mjs";
import { render } from "./lib/boot-report.mjs";
import { bootDebianOnce, prepareDebian, republishWithProfile } from "./lib/debian-boot.mjs";
import { renderDebian } from "./lib/debian-report.mjs";
import { startDelayProxy } from "./lib/delay-proxy.mjs";
import { CACHE, elapsed, ensureTool, log, REPEAT } from "./lib/run.mjs";
import { benchDirs, runScript, saveReport } from "./lib/script.mjs";

const { runs: WORK, results: FULL_RESULTS } = benchDirs("boot");
/** The rows this run boots: busybox (host-side edgeboot nbd), debian (the in-guest fetcher). */
const PARTS = new Set(
  (process.env.EDGEBOOT_BENCH_BOOT ?? "busybox,debian").split(",").filter(Boolean),
);
const REDUCED = !PARTS.has("busybox") || !PARTS.has("debian");
const RESULTS =
  process.env.EDGEBOOT_BENCH_BOOT_REPORT ?? (REDUCED ? join(CACHE, "boot.md") : FULL_RESULTS);
/** Extra arguments for every `edgeboot nbd` (by-hand variants, e.g. "--jobs 32"). */
const NBD_ARGS = (process.env.EDGEBOOT_BENCH_NBD_ARGS ?? "").split(/\s+/).filter(Boolean);
const BUDGET_S = Number(process.env.EDGEBOOT_BENCH_BUDGET_S ?? 2400);
/** Whether the Debian rows end with a cold and a warm boot whose fetcher is CPU-profiled. */
const PROFILE = process.env.EDGEBOOT_BENCH_BOOT_PROFILE !== "0";
/** The busybox rounds' share of the budget when the Debian rows follow. */
const BUSYBOX_BUDGET_S = PARTS.has("debian") ? BUDGET_S * 0.15 : BUDGET_S;

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];

function logBoot(boot, note = "") {
  log(
    `round ${boot.round} ${boot.image} ${boot.kind}${note}: marker ${(boot.wholeMs / 1000).toFixed(2)} s, root fs phase ${(boot.rootfsMs / 1000).toFixed(2)} s` +
      (boot.http ? `, ${boot.http.chunkRequests} chunk requests` : ""),
  );
}

/** The first line `command --version` prints, as the report names the tool; `missing` if none. */
const versionLine = (command, missing) =>
  spawnSync(command, ["--version"]).stdout?.toString().split("\n")[0].trim() || missing;

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
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const kernel = await obtainKernel({ log });
  log(`kernel ${kernel.version}; building the CLI and the Worker (scripts/boot/edge.mjs)`);
  const script = await buildAll(join(WORK, "worker"));
  const busybox = PARTS.has("busybox") ? await runBusybox(kernel, script) : undefined;
  const debian = PARTS.has("debian") ? await runDebian(script) : undefined;
  loadAverage("at the end");
  const qemu = versionLine("qemu-system-x86_64", "no qemu");
  const versions = [qemu, versionLine("nbdkit", "no nbdkit")];
  const report = [
    busybox ? render({ ...busybox, kernel, loads, work: WORK, nbdArgs: NBD_ARGS, versions }) : "",
    debian
      ? renderDebian({ ...debian, loads, work: WORK, standalone: !busybox, cache: CACHE, qemu })
      : "",
  ].join("\n");
  saveReport("bench/boot.mjs", RESULTS, report);
}

/** The busybox rows: alpha and scatter through `edgeboot nbd` on the host and qemu's NBD client. */
async function runBusybox(kernel, script) {
  await staticBusybox();
  const peerNote = ensureTool("nbdkit", "nbdkit");
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
  const proxy = await startDelayProxy({ upstream: edge.url });
  try {
    log(`edge ${edge.url} (Miniflare) behind the delay proxy ${proxy.url} (+${proxy.rttMs} ms)`);
    const ctx = { kernel, initrd, proxy, edge, work: WORK, nbdArgs: NBD_ARGS };

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
      if (round > 1 && elapsed() > BUSYBOX_BUDGET_S) {
        log(
          `busybox rows: time budget spent (${BUSYBOX_BUDGET_S} s): skipping rounds ${round}-${REPEAT}`,
        );
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
    return { images, boots, proxy, peerNote };
  } finally {
    await proxy.close();
    await edge.close();
  }
}

/**
 * The Debian rows: the chain of scripts/boot/netboot.mjs (its own edge), the delay proxy in front
 * of that edge, then rounds of cold / warm / prefetch boots through the in-guest fetcher. Round 1's
 * cold boot comes first: its record (read back from its cache disk) becomes the prefetch list.
 */
async function runDebian(script) {
  const debian = await prepareDebian({ work: WORK, workerScript: script, log });
  cleanups.push(() => debian.netboot.close());
  const proxy = await startDelayProxy({ upstream: debian.netboot.edge.url });
  cleanups.push(() => proxy.close());
  log(
    `debian: edge ${debian.netboot.edge.url} behind the delay proxy ${proxy.url} (+${proxy.rttMs} ms)`,
  );
  const ctx = { debian, proxy, work: WORK };
  const boots = [];
  const orders = [
    ["cold", "warm", "prefetch"],
    ["prefetch", "cold", "warm"],
    ["cold", "prefetch", "warm"],
  ];
  let roundS = 0;
  for (let round = 1; round <= REPEAT; round++) {
    if (round > 1 && elapsed() + roundS > BUDGET_S) {
      log(
        `debian rows: a round takes about ${roundS.toFixed(0)} s, the budget (${BUDGET_S} s) ends sooner: skipping rounds ${round}-${REPEAT}`,
      );
      break;
    }
    const started = performance.now();
    for (const kind of orders[(round - 1) % orders.length]) {
      let boot;
      try {
        boot = await bootDebianOnce(ctx, kind, round);
      } catch (error) {
        if (round === 1) throw error;
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        log(`round ${round} debian ${kind} failed: ${message}`);
        boots.push({ kind, round, failed: message });
        continue;
      }
      boots.push(boot);
      // Enough to render the Debian section again (bench/lib/debian-report.mjs) without booting.
      const summary = {
        image: { bytes: debian.image.bytes, packages: debian.image.packages },
        initramfs: { bytes: debian.initramfs.bytes },
        kernel: { version: debian.kernel.version },
        prefetchList: debian.prefetchList,
      };
      writeFileSync(
        join(WORK, "debian-boots.json"),
        `${JSON.stringify({ debian: summary, rttMs: proxy.rttMs, boots }, null, 1)}\n`,
      );
      log(
        `round ${round} debian ${kind}: marker ${(boot.markerMs / 1000).toFixed(1)} s, ${boot.http.chunkRequests} chunk requests (${boot.http.distinctChunks} distinct), guest touched ${boot.touched?.chunks ?? "?"} chunks, read ${boot.guestRead ? (boot.guestRead.bytes / 2 ** 20).toFixed(1) : "?"} MiB; ${boot.coverage.cached.chunks} chunks on the cache disk after poweroff${boot.poweredOff ? "" : " (qemu killed: no poweroff)"}`,
      );
      if (round === 1 && kind === "cold") {
        if (!boot.record) throw new Error("round 1's cold boot left no record on its cache disk");
        const t = performance.now();
        await republishWithProfile(debian, boot.record);
        debian.recordBoot = boot;
        log(
          `debian: published debian-a-prefetch with the profile in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      }
    }
    roundS = (performance.now() - started) / 1000;
  }
  const profiled = PROFILE ? await profiledDebianBoots(ctx, roundS) : [];
  return { debian, proxy, boots, profiled };
}

/**
 * A cold boot and its warm reboot with the fetcher under the CPU profiler (`edgeboot.cpuprof=`),
 * after the measured rounds (the profiler's own cost stays out of their figures); skipped when the
 * budget would not hold them.
 * @param {{ debian: any, proxy: any, work: string }} ctx
 * @param {number} roundS how long the last round took
 */
async function profiledDebianBoots(ctx, roundS) {
  if (elapsed() + roundS > BUDGET_S) {
    log(`debian rows: no time left in the budget (${BUDGET_S} s) for the profiled boots`);
    return [];
  }
  const profiled = [];
  for (const kind of /** @type {const} */ (["cold", "warm"])) {
    try {
      const boot = await bootDebianOnce(ctx, kind, "p", { profile: true });
      profiled.push(boot);
      log(
        `profiled debian ${kind}: marker ${(boot.markerMs / 1000).toFixed(1)} s, fetcher cpu ${boot.cpu.marker?.total.toFixed(2) ?? "?"} s, ${boot.profile.length} profile(s)`,
      );
    } catch (error) {
      log(
        `profiled debian ${kind} failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`,
      );
      break;
    }
  }
  return profiled;
}

await runScript("bench/boot.mjs", main, cleanups);
