// `npm run demo:boot`: boots real Linux guests under qemu whose root filesystems are served lazily
// from an edge running here.
//
//   1. The fast way, qemu's own NBD client: build two ext4 root filesystems (alpha, beta) → publish
//      them to a local edge (the Worker in Miniflare) → `edgeboot nbd EDGE` → qemu -drive
//      nbd://…/alpha, then …/beta → each prints its marker → report boot times and what the NBD
//      server fetched.
//   2. From the edge URL alone (demo-netboot.mjs, netboot.mjs): two Debian bookworm roots published
//      with a kernel and an `edgeboot initramfs` → qemu -boot n with no kernel and no disk → iPXE →
//      /boot.ipxe → the menu's default, then the other entry typed on the serial console → the
//      fetcher inside the guest → systemd's multi-user.target → report each step's time.
//
// Flags: --console (print every guest console line), --timeout SECONDS (per boot; default 60 for
// the busybox boots, 300 for the Debian ones).
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startNbd } from "../../testing/edgeboot-nbd.mjs";
import { staticBusybox } from "./busybox.mjs";
import { cacheUsage, imageCoverage, publishImage, recordedReads } from "./cli.mjs";
import { netbootDemo } from "./demo-netboot.mjs";
import { buildAll, startLocalEdge } from "./edge.mjs";
import { buildInitramfs, INITRAMFS_FAILURE } from "./initramfs.mjs";
import { obtainKernel } from "./kernel.mjs";
import { NETBOOT_TOOLS } from "./netboot.mjs";
import { bootGuest, lineTime } from "./qemu.mjs";
import { bootMarker, buildRootfs, DATA_FAILURE, ROOTFS_VARIANTS } from "./rootfs.mjs";
import { requireTools } from "./tools.mjs";

const { values: flags } = parseArgs({
  options: { console: { type: "boolean" }, timeout: { type: "string" } },
});
const givenTimeoutMs = flags.timeout === undefined ? undefined : Number(flags.timeout) * 1000;
if (givenTimeoutMs !== undefined && !(givenTimeoutMs > 0)) {
  process.stderr.write(`demo:boot: --timeout ${flags.timeout}: give seconds, e.g. --timeout 300\n`);
  process.exit(2);
}
const timeoutMs = givenTimeoutMs ?? 60_000;

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
/** @type {Promise<void> | undefined} */
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    cleanup().finally(() => process.exit(130));
  });
}

/** @param {string} line */
const say = (line) => process.stdout.write(`${line}\n`);
/** @param {number} bytes */
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
/**
 * @param {number} part
 * @param {number} whole
 */
const pct = (part, whole) => `${((100 * part) / whole).toFixed(0)}%`;
/** @param {number | undefined} ms */
const secs = (ms) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)}`);

async function main() {
  requireTools(["qemu-system-x86_64", "busybox", "mke2fs", "debugfs", "apt-get", "dpkg-deb"]);
  requireTools(NETBOOT_TOOLS);
  await staticBusybox();
  const work = await mkdtemp(join(tmpdir(), "edgeboot-boot-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  // Miniflare exits the process on SIGINT/SIGTERM itself (exit-hook) before an async cleanup can
  // finish, so the work directory also goes on exit: after edgeboot nbd, whose kill-on-exit
  // listener comes first once removeWork is registered again below.
  const removeWork = () => rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  process.on("exit", removeWork);

  const kernel = await obtainKernel({ log: (line) => say(`kernel: ${line}`) });
  say(`kernel     ${kernel.version} (${kernel.vmlinuz})`);
  const initrd = await buildInitramfs({
    out: join(work, "initramfs.cpio.gz"),
    modulesDir: kernel.modulesDir,
  });
  say(`initramfs  ${mib(initrd.bytes)}: busybox, /init, modules ${initrd.modules.join(" ")}`);
  /** @type {Record<string, { path: string, bytes: number, sha256: string }>} */
  const images = {};
  for (const variant of Object.values(ROOTFS_VARIANTS)) {
    const image = await buildRootfs({
      ...variant,
      out: join(work, `${variant.name}.img`),
    });
    images[variant.name] = image;
    say(`rootfs     ${variant.name}: ${mib(image.bytes)} ext4`);
  }

  const scriptPath = await buildAll(join(work, "worker"));
  const edge = await startLocalEdge(scriptPath);
  cleanups.push(() => edge.close());
  say(`edge       ${edge.url} (the Worker in Miniflare, in-memory R2)`);
  for (const [name, image] of Object.entries(images)) {
    await publishImage({ edge: edge.url, token: edge.token, image: image.path, name });
    say(`published  ${name}`);
  }

  const cacheDir = join(work, "cache");
  const record = join(work, "boot-record.json");
  const nbd = await startNbd({ edge: edge.url, cacheDir, record });
  cleanups.push(() => nbd.close());
  process.removeListener("exit", removeWork).on("exit", removeWork);
  say(`nbd        nbd://${nbd.host}:${nbd.port}/NAME (edgeboot nbd, cache ${cacheDir})`);

  const rows = [];
  let previousChunks = 0;
  for (const name of Object.keys(images)) {
    say(`\nboot ${name}: qemu -drive file=nbd://${nbd.host}:${nbd.port}/${name},if=virtio,...`);
    const other = Object.keys(images).filter((n) => n !== name);
    const result = await bootGuest({
      kernel: kernel.vmlinuz,
      initrd: initrd.path,
      nbd: { host: nbd.host, port: nbd.port, exportName: name },
      marker: bootMarker(name),
      failures: [INITRAMFS_FAILURE, DATA_FAILURE, ...other.map(bootMarker)],
      timeoutMs,
      onLine: (line, ms) => {
        if (flags.console || /edgeboot|EDGEBOOT/.test(line))
          say(`  ${secs(ms).padStart(6)} s | ${line}`);
      },
    });
    const usage = await cacheUsage(cacheDir);
    const coverage = await imageCoverage({ edge: edge.url, name, cacheDir });
    rows.push({ name, result, usage, coverage, newChunks: usage.chunks - previousChunks });
    previousChunks = usage.chunks;
  }
  await nbd.close(); // which also writes the boot record
  const reads = await recordedReads(record).catch(
    () => /** @type {Record<string, [number, number][]>} */ ({}),
  );

  say("\nimage: size, distinct chunks | read by the guest | fetched into the cache by its boot");
  for (const { name, coverage, newChunks } of rows) {
    const { read } = await imageCoverage({ edge: edge.url, name, cacheDir, reads: reads[name] });
    const { distinct, cached } = coverage;
    /** @param {import("./cli.mjs").ChunkSet | undefined} set */
    const share = (set) =>
      set ? `${set.chunks} chunks, ${mib(set.bytes)} (${pct(set.bytes, distinct.bytes)})` : "-";
    say(
      `${name.padEnd(6)} ${mib(coverage.size)}, ${distinct.chunks} distinct of ${coverage.chunks}` +
        ` (${mib(distinct.bytes)}) | ${share(read)} | ${share(cached)}, ${newChunks} new`,
    );
  }
  say("\nseconds from qemu's start to:  /init  virtio_blk loaded  root mounted  marker  qemu exit");
  for (const { name, result } of rows) {
    /**
     * @param {number | undefined} ms
     * @param {number} width
     */
    const at = (ms, width) => secs(ms).padStart(width);
    say(
      `  ${name.padEnd(28)} ${at(lineTime(result, "Run /init"), 6)}` +
        `${at(lineTime(result, "initramfs: loaded"), 19)}${at(lineTime(result, "mounted read-only"), 14)}` +
        `${at(result.markerMs, 8)}${at(result.exitMs, 11)}`,
    );
  }
  const said = nbd.stderr().trim();
  if (said) say(`\nedgeboot nbd said:\n${said.replace(/^/gm, "  ")}`);
  say(`\n${rows.at(-1)?.usage.text.trim()}`);
  say(`\nbooted ${rows.map((r) => r.name).join(" and ")} from the edge by NBD export name.`);

  await netbootDemo({
    work,
    workerScript: scriptPath,
    timeoutMs: givenTimeoutMs,
    console: flags.console,
    say,
    onCleanup: (step) => cleanups.push(step),
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`\ndemo:boot failed: ${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// Whatever a failed start left behind (a half-started workerd) must not keep the demo alive.
process.exit();
