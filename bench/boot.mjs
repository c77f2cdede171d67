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
// Each boot and its measurements: bench/lib/boot-guest.mjs; the report: bench/lib/boot-report.mjs.
//
// Environment: EDGEBOOT_BENCH_RTT_MS (round trip the proxy adds, default 50),
// EDGEBOOT_BENCH_REPEAT (rounds, default 3), EDGEBOOT_BENCH_BUDGET_S (no new round after this
// many seconds, default 200), EDGEBOOT_BENCH_CACHE (work directory parent); for variants by hand,
// EDGEBOOT_BENCH_NBD_ARGS (added to every `edgeboot nbd`, e.g. "--jobs 32") and
// EDGEBOOT_BENCH_BOOT_REPORT (write the report there instead of bench/results/boot.md).
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
import { startDelayProxy } from "./lib/delay-proxy.mjs";
import {
  CACHE,
  elapsed,
  ensureTool,
  log,
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

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];

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
  const report = render({
    images,
    boots,
    proxy,
    peerNote,
    kernel,
    loads,
    work: WORK,
    nbdArgs: NBD_ARGS,
  });
  writeResults(RESULTS, report, notesMarker("bench/boot.mjs"));
  process.stdout.write(report);
  log(`wrote ${RESULTS}`);
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
