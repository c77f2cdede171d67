// The Debian rows of bench/boot.mjs: a Debian bookworm root (scripts/boot/debian.mjs) booted under
// qemu by the fetching initramfs of `edgeboot initramfs --trust` (Node and `edgeboot nbd --pin`
// inside the guest), the edge behind the delay proxy, reached from the guest through a restricted
// user network (guestfwd → socat → the proxy's loopback port). A disk labelled edgeboot-cache holds
// the guest's chunk cache: empty for a cold boot, the cold boot's disk for a warm one. /init passes
// `edgeboot.record=` to the fetcher as `--record` on that disk, so every boot leaves the chunks it
// read there; the host reads the disk image back with debugfs after qemu has powered off.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { imageCoverage, recordedReads } from "../../scripts/boot/cli.mjs";
import { debianMarker, fetcherCpu, nbdStat } from "../../scripts/boot/debian.mjs";
import { INITRAMFS_FAILURE } from "../../scripts/boot/initramfs.mjs";
import {
  EDGE_IN_GUEST,
  makeCacheDisk,
  NETBOOT_CMDLINE,
  prepareNetboot,
} from "../../scripts/boot/netboot.mjs";
import { bootGuest, lineTime } from "../../scripts/boot/qemu.mjs";
import { summarizeProfiles } from "./run.mjs";

/** The rootfs booted; NAME-prefetch is the same image republished with a prefetch list. */
export const DEBIAN_ROOTFS = "debian-a";
/** The record file /init has the fetcher write in the chunk cache's directory. */
const RECORD_FILE = "boot-record.json";
/**
 * Where a profiled boot's fetcher writes its CPU profile, in the chunk cache's directory (a warm
 * boot's disk holds its cold boot's profile too: each kind has its own directory).
 * @param {string} kind
 */
const cpuProfileDir = (kind) => `cpu-profile-${kind}`;
/** Functions listed per profile in the report. */
const PROFILE_TOP = 15;
/** The guest: as test/boot/fetcher-boot.test.ts boots it (Node in the initramfs needs memory). */
export const GUEST = { memoryMiB: 1024, cpus: 2 };
/** Size of each cache disk image in MiB (sparse). */
const CACHE_DISK_MIB = 512;
/** From qemu's start to the marker; then how long qemu may take to power off on its own. */
const BOOT_TIMEOUT_MS = 240_000;
const POWEROFF_GRACE_MS = 60_000;

/**
 * The console lines that mark the steps of an in-guest boot: [key, label, text of the line that
 * ends the step]. Each step runs from the previous one's line (qemu's start for the first).
 */
export const DEBIAN_STEPS = [
  ["kernel", "qemu start → kernel", "Linux version"],
  ["init", "kernel → /init", "Run /init as init process"],
  ["modules", "/init: modules loaded", "edgeboot initramfs: loaded"],
  ["network", "DHCP", "edgeboot initramfs: network up"],
  ["fetcher", "fetcher started (Node, ref, manifest)", "edgeboot initramfs: fetcher listening"],
  ["attach", "nbd-client attach", "edgeboot initramfs: /dev/nbd0 attached"],
  ["root", "root + overlay mounted", "edgeboot initramfs: root mounted"],
  ["systemd", "switch_root → systemd's first line", "Welcome to "],
];

/**
 * The whole chain up to the edge, from scripts/boot/netboot.mjs: the kernel, the Debian root
 * (cached by debian.mjs), a publisher key, `edgeboot initramfs --trust`, a local edge (its own
 * Miniflare) and the root published signed with its boot files. Only DEBIAN_ROOTFS is published.
 * (The boots here give the kernel command line themselves, with edgeboot.record=: a published
 * --cmdline may not set edgeboot.* arguments, the edge writes those.)
 * @param {{ work: string, workerScript: string, log: (line: string) => void }} options
 */
export async function prepareDebian({ work, workerScript, log }) {
  const dir = join(work, "debian");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const netboot = await prepareNetboot({
    workDir: dir,
    workerScript,
    names: [DEBIAN_ROOTFS],
    log,
  });
  const image = netboot.images[DEBIAN_ROOTFS];
  if (!image) throw new Error(`prepareNetboot published no ${DEBIAN_ROOTFS}`);
  return {
    dir,
    netboot,
    kernel: netboot.kernel,
    initramfs: netboot.initramfs,
    image,
    setupMs: netboot.setupMs,
    prefetchList: 0,
    profile: "",
  };
}

/**
 * Republishes the Debian image as NAME-prefetch with the reads of `record` (a boot's record file,
 * read back from its cache disk) as its prefetch list, signed by the same key.
 * @param {any} debian what prepareDebian gave
 * @param {string} record
 */
export async function republishWithProfile(debian, record) {
  const { netboot } = debian;
  const profile = JSON.parse(readFileSync(record, "utf8"));
  const name = `${DEBIAN_ROOTFS}-prefetch`;
  profile.images = profile.images.filter((/** @type {any} */ i) => i.name === DEBIAN_ROOTFS);
  for (const entry of profile.images) entry.name = name;
  const renamed = join(debian.dir, `profile-${name}.json`);
  writeFileSync(renamed, `${JSON.stringify(profile)}\n`);
  debian.profile = renamed;
  // The same image under a second name (so that boots with and without the list can alternate),
  // published with the chain's key and boot files.
  netboot.images[name] = debian.image;
  if (!netboot.names.includes(name)) netboot.names.push(name);
  await netboot.republish(name, ["--profile", renamed]);
  const ref = netboot.refs[name];
  const manifest = await (await fetch(`${netboot.edge.url}/v1/manifests/${ref.manifest}`)).json();
  debian.prefetchList = manifest.prefetch?.length ?? 0;
}

/**
 * The kernel command line an edge's boot script writes for rootfs `name` (its current signed ref),
 * with the record file, and `edgeboot.cpuprof=PROFILE` when PROFILE is given.
 * @param {string} edgeUrl
 * @param {string} name
 * @param {string} [profile]
 */
async function cmdline(edgeUrl, name, profile) {
  const response = await fetch(`${edgeUrl}/v1/rootfs/${name}`);
  if (!response.ok) throw new Error(`GET /v1/rootfs/${name}: ${response.status}`);
  /** @type {{ manifest: string, published: string, signature?: { sig: string } }} */
  const ref = await response.json();
  return [
    `edgeboot.edge=http://${EDGE_IN_GUEST}`,
    `edgeboot.rootfs=${name}`,
    `edgeboot.manifest=${ref.manifest}`,
    `edgeboot.published=${ref.published}`,
    ref.signature ? `edgeboot.sig=${ref.signature.sig}` : "",
    `edgeboot.record=${RECORD_FILE}`,
    profile ? `edgeboot.cpuprof=${profile}` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/**
 * Copies the chunk cache out of a cache disk image into `dir`, as the next boot would find it: the
 * guest never unmounts the disk (it syncs and powers off), so its journal is replayed first, by
 * e2fsck on a sparse copy (debugfs alone reads the stale bitmaps and may refuse the image), then
 * debugfs rdump copies /edgeboot (chunks/XX/ID and the record file) out of the copy.
 */
export function readCacheDisk(disk, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, "disk.img");
  const copied = spawnSync("cp", ["--sparse=always", disk, copy]);
  if (copied.status !== 0) throw new Error(`cp ${disk}: ${copied.stderr}`);
  // 0: clean, 1: errors corrected (the journal replayed, counts fixed); more is a real problem.
  const checked = spawnSync("e2fsck", ["-fy", copy]);
  if (checked.status === null || checked.status > 1) {
    throw new Error(`e2fsck -fy on a copy of ${disk} (${checked.status}): ${checked.stdout}`);
  }
  const dumped = spawnSync("debugfs", ["-R", `rdump /edgeboot ${dir}`, copy]);
  rmSync(copy, { force: true });
  if (dumped.status !== 0 || !existsSync(join(dir, "edgeboot"))) {
    throw new Error(`debugfs rdump /edgeboot from ${disk}: ${dumped.stderr}`);
  }
  return join(dir, "edgeboot");
}

/**
 * The fetcher's CPU seconds (user + system) at each moment the console gave them (see
 * fetcherCpu): `listening`, `root mounted` and `marker`, each { user, sys, total }.
 * @param {{ text: string }[]} lines
 */
export function fetcherCpuOf(lines) {
  /** @type {Record<string, { user: number, sys: number, total: number }>} */
  const cpu = {};
  for (const line of lines) {
    const at = fetcherCpu(line.text);
    if (at) cpu[at.when] = { user: at.user, sys: at.sys, total: at.user + at.sys };
  }
  return cpu;
}

/**
 * Boots the Debian root once as `kind` in `round`: cold (a fresh cache disk), prefetch (a fresh
 * cache disk, NAME-prefetch) or warm (the round's cold boot's disk, as that boot left it). With
 * `profile`, the fetcher runs under the CPU profiler (`edgeboot.cpuprof=`) and the boot gains
 * `profile`, its summary (bench/lib/run.mjs summarizeProfiles) read back from the cache disk.
 * @param {{ debian: any, proxy: any, work: string }} ctx
 * @param {"cold" | "prefetch" | "warm"} kind
 * @param {number | string} round
 * @param {{ profile?: boolean }} [options]
 */
export async function bootDebianOnce(ctx, kind, round, options = {}) {
  const { debian, proxy } = ctx;
  const { kernel, edge } = debian.netboot;
  const name = kind === "prefetch" ? `${DEBIAN_ROOTFS}-prefetch` : DEBIAN_ROOTFS;
  const disk = join(debian.dir, `r${round}-${kind === "warm" ? "cold" : kind}-cache.img`);
  if (kind === "warm" && !existsSync(disk))
    throw new Error(`no cold cache disk ${disk} to boot warm`);
  if (kind !== "warm") {
    rmSync(disk, { force: true });
    await makeCacheDisk(disk, CACHE_DISK_MIB);
  }
  const append = `${NETBOOT_CMDLINE.replace(/console=ttyS0|panic=-1/g, "")} ${await cmdline(edge.url, name, options.profile ? cpuProfileDir(kind) : undefined)}`;
  const mark = proxy.mark();
  const t0 = performance.now();
  const result = await bootGuest({
    kernel: kernel.vmlinuz,
    initrd: debian.initramfs.path,
    network: [{ guest: `${EDGE_IN_GUEST}:80`, hostPort: Number(new URL(proxy.url).port) }],
    disks: [disk],
    append,
    marker: debianMarker(DEBIAN_ROOTFS),
    failures: [INITRAMFS_FAILURE],
    // The profiler's sampling costs about as much again under emulation.
    timeoutMs: options.profile ? 2 * BOOT_TIMEOUT_MS : BOOT_TIMEOUT_MS,
    exitGraceMs: POWEROFF_GRACE_MS,
    ...GUEST,
  });
  const http = proxy.since(mark);
  const markerLine = result.lines.find((l) => l.text.includes(debianMarker(DEBIAN_ROOTFS)))?.text;
  const stat = result.lines.map((l) => nbdStat(l.text)).find(Boolean);
  const chunks = http.log.filter((/** @type {any} */ h) => h.path.startsWith("/v1/chunks/"));
  const atMarker = (/** @type {any} */ h) => h.startMs - t0 <= result.markerMs;
  const steps = {};
  let previous = 0;
  for (const [key, , text] of DEBIAN_STEPS) {
    const at = lineTime(result, text);
    steps[key] = at === undefined ? Number.NaN : at - previous;
    if (at !== undefined) previous = at;
  }
  steps.marker = result.markerMs - previous;
  const boot = {
    kind,
    round,
    name,
    args: result.args,
    markerMs: result.markerMs,
    exitMs: result.exitMs,
    poweredOff: result.exitMs - result.markerMs < POWEROFF_GRACE_MS - 1000,
    markerLine,
    steps,
    at: Object.fromEntries(DEBIAN_STEPS.map(([key, , text]) => [key, lineTime(result, text)])),
    guestRead: stat,
    cpu: fetcherCpuOf(result.lines),
    http: {
      requests: http.requests,
      chunkRequests: chunks.length,
      distinctChunks: new Set(chunks.map((/** @type {any} */ h) => h.path)).size,
      chunkBytes: chunks.reduce((/** @type {number} */ s, /** @type {any} */ h) => s + h.bytes, 0),
      chunkRequestsToMarker: chunks.filter(atMarker).length,
      bytes: http.bytes,
      chunksBeforeAttach: chunks.filter(
        (/** @type {any} */ h) =>
          h.startMs - t0 < (lineTime(result, "edgeboot initramfs: /dev/nbd0 attached") ?? 0),
      ).length,
      chunksAfterSystemd: chunks.filter(
        (/** @type {any} */ h) => h.startMs - t0 >= (lineTime(result, "Welcome to ") ?? Infinity),
      ).length,
      lastChunkEndMs: Math.max(0, ...chunks.map((/** @type {any} */ h) => h.endMs - t0)),
    },
  };
  writeFileSync(
    join(ctx.work, `console-r${round}-${DEBIAN_ROOTFS}-${kind}.txt`),
    [
      ...result.lines.map((l) => [l.ms, `   ${l.text}`]),
      ...http.log.map((/** @type {any} */ h) => [
        h.startMs - t0,
        `>> ${h.method} ${h.path} ${h.status} ${h.bytes} B, ${(h.endMs - h.startMs).toFixed(0)} ms`,
      ]),
    ]
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([ms, text]) => `${(Number(ms) / 1000).toFixed(3).padStart(8)} ${text}`)
      .join("\n"),
  );
  // What the cache disk holds now: the chunks kept across the reboot, and the record.
  const cacheDir = readCacheDisk(disk, join(debian.dir, `r${round}-${kind}-disk`));
  const record = join(cacheDir, RECORD_FILE);
  boot.record = existsSync(record) ? record : undefined;
  const reads = boot.record ? (await recordedReads(record))[name] : undefined;
  const coverage = await imageCoverage({ edge: edge.url, name, cacheDir, reads });
  boot.coverage = coverage;
  boot.touched = coverage.read;
  if (options.profile) {
    const profiles = join(cacheDir, cpuProfileDir(kind));
    boot.profile = existsSync(profiles) ? summarizeProfiles(profiles, PROFILE_TOP) : [];
  }
  return boot;
}
