// A real Debian bookworm root to boot: mmdebstrap (minbase + systemd), the guest kernel's modules,
// and a unit that prints a marker on the console once multi-user.target is reached and powers off.
// It becomes a reproducible ext4 image (fixed UUID, hash seed and times), cached under
// bootCacheDir() by a hash of every input, since mmdebstrap takes a minute or two.
//
//   node scripts/boot/debian.mjs [--name debian-a] [--out FILE.img] [--rebuild]
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { REPO } from "./cli.mjs";
import { bootCacheDir, fileDigest, requireTools, run, stableUuid } from "./tools.mjs";

/** What every Debian root here is made from. */
export const DEBIAN_SUITE = "bookworm";
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";
/**
 * On top of minbase: systemd as init (systemd-sysv), udev to load the modules of the devices it
 * finds, kmod for modprobe, iproute2 to see and set the network. No ifupdown or DHCP client: the
 * initramfs that attaches the root over the network has configured eth0 already, and a second
 * DHCP client in the root would reconfigure the interface the root device depends on.
 */
export const DEBIAN_PACKAGES = ["systemd-sysv", "udev", "kmod", "iproute2"];

/** Left out of the root by dpkg: documentation and translations (copyright files stay). */
const DPKG_EXCLUDES = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/locale/*",
  "path-include=/usr/share/locale/locale.alias",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
];

/** Every timestamp in the root and its image (2023-11-14), so builds repeat byte for byte. */
export const SOURCE_DATE_EPOCH = 1_700_000_000;

/**
 * Bumped by hand whenever what the build does changes in a way the hashed inputs do not show
 * (the image key also hashes this file's own source and `edgeboot image`'s, so a change to how the
 * image is made rebuilds it from the cached tarball; a bump here rebuilds the tarball too).
 */
const GENERATION = 1;

/**
 * One Debian root to build.
 * @typedef {object} DebianVariant
 * @property {string} name        rootfs name: the hostname, the filesystem label, the cache name
 * @property {string[]} [extraPackages] installed on top of DEBIAN_PACKAGES
 */

/** The two Debian roots offered side by side; the second is one small package bigger. */
export const DEBIAN_VARIANTS = /** @type {Record<string, DebianVariant>} */ ({
  "debian-a": { name: "debian-a" },
  "debian-b": { name: "debian-b", extraPackages: ["iputils-ping"] },
});

/**
 * The console line a Debian root prints once multi-user.target is reached (followed by
 * ` uptime=SECONDS failed-units=N`).
 * @param {string} name
 */
export function debianMarker(name) {
  return `EDGEBOOT-DEBIAN-OK ${name}`;
}

/**
 * Printed just before the marker when the root is on /dev/nbd0 (the fetching initramfs), followed
 * by the 11+ fields of `/sys/block/nbd0/stat` at that moment: what the guest read from its root
 * device (see nbdStat).
 */
export const NBD_STAT_LINE = "edgeboot: /sys/block/nbd0/stat";

/**
 * The words of the console lines that give the fetcher's CPU seconds so far (utime and stime of
 * its /proc/PID/stat): `fetcher cpu user=U sys=S s at WHEN`, printed by the fetching initramfs's
 * /init (WHEN `listening`, `root mounted`) and by the marker unit after the marker (`marker`).
 */
export const FETCHER_CPU_WORDS = "fetcher cpu";

/**
 * The fetcher's CPU seconds on a line that gives them (see FETCHER_CPU_WORDS), or undefined.
 * @param {string} line
 * @returns {{ when: string, user: number, sys: number } | undefined}
 */
export function fetcherCpu(line) {
  const m = /fetcher cpu user=([\d.]+) sys=([\d.]+) s at ([a-z]+(?: [a-z]+)*)/.exec(line);
  if (!m) return undefined;
  return { when: /** @type {string} */ (m[3]), user: Number(m[1]), sys: Number(m[2]) };
}

/**
 * Printed by the marker unit once the fetcher (started with edgeboot.cpuprof=) has written its CPU
 * profile to the cache disk, after the marker.
 */
export const CPU_PROFILE_LINE = "edgeboot: fetcher cpu profile written";

/**
 * The reads of the console line that starts with NBD_STAT_LINE: read requests, and bytes (the
 * kernel counts 512-byte sectors whatever the device's block size), or undefined.
 * @param {string} line
 * @returns {{ reads: number, bytes: number } | undefined}
 */
export function nbdStat(line) {
  const at = line.indexOf(NBD_STAT_LINE);
  if (at < 0) return undefined;
  const fields = line
    .slice(at + NBD_STAT_LINE.length)
    .trim()
    .split(/\s+/)
    .map(Number);
  if (fields.length < 11 || fields.some((f) => !Number.isInteger(f))) return undefined;
  return {
    reads: /** @type {number} */ (fields[0]),
    bytes: 512 * /** @type {number} */ (fields[2]),
  };
}

/**
 * A built (or cached) Debian root image.
 * @typedef {object} DebianImage
 * @property {string} path     the image in the cache (or `out` when given)
 * @property {number} bytes    its size
 * @property {string} sha256   its digest
 * @property {string} key      the cache key (hash of every input)
 * @property {boolean} cached  true when nothing was built
 * @property {number} buildMs  time spent building (0 when cached)
 * @property {string[]} packages `name version` of every package installed in it
 */

/**
 * Builds the ext4 image of a Debian root with the kernel's modules in it, or gives the cached one
 * when every input is the same. mmdebstrap's output (a tarball) is cached apart from the image, so
 * changing the marker, the kernel or this script rebuilds the image in seconds.
 * @param {DebianVariant & {
 *   kernel: import("./kernel.mjs").Kernel,
 *   marker?: string,
 *   out?: string,
 *   cacheDir?: string,
 *   rebuild?: boolean,
 *   log?: (line: string) => void,
 * }} options `marker` defaults to debianMarker(name); `rebuild` ignores the cache
 * @returns {Promise<DebianImage>}
 */
export async function buildDebianImage(options) {
  const { name, kernel } = options;
  const marker = options.marker ?? debianMarker(name);
  const log = options.log ?? (() => {});
  const cacheDir = join(options.cacheDir ?? bootCacheDir(), "debian");
  const tools = requireTools(["mmdebstrap", "mke2fs", "debugfs", "depmod", "tar", "dpkg-query"]);
  if (!existsSync(join(REPO, "dist", "cli", "edgeboot.js"))) {
    throw new Error("the CLI is not built: run `node scripts/build-cli.mjs` (npm run build:cli)");
  }
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
    throw new Error(`rootfs name ${JSON.stringify(name)}: use a hostname (a-z, 0-9, -)`);
  }
  const { base, baseKey } = await debianTarball({ ...options, cacheDir, tools, log, check: false });
  const files = rootFiles(name, marker);
  const imageKey = hashOf({
    baseKey,
    kernel: kernel.version,
    files,
    mke2fs: (await run(tools.mke2fs, ["-V"])).stderr.trim(),
    script: await sourcesDigest([fileURLToPath(import.meta.url), ...IMAGE_SOURCES]),
  });
  const image = join(cacheDir, `${name}-${imageKey}.img`);
  const meta = join(cacheDir, `${name}-${imageKey}.json`);
  await mkdir(cacheDir, { recursive: true });

  let result;
  if (!options.rebuild && existsSync(image) && existsSync(meta)) {
    log(`debian ${name}: cached image ${image}`);
    const saved = JSON.parse(await readFile(meta, "utf8"));
    result = { ...saved, path: image, cached: true, buildMs: 0 };
  } else {
    const started = performance.now();
    await debianTarball({ ...options, cacheDir, tools, log, check: true });
    const made = await makeImage({ name, base, kernel, files, image, tools, log });
    const buildMs = Math.round(performance.now() - started);
    result = { path: image, ...made, key: imageKey, cached: false, buildMs };
    await writeAtomically(meta, `${JSON.stringify({ ...result, path: undefined }, null, 2)}\n`);
    await prune(cacheDir, name, [image, meta, base]);
    log(`debian ${name}: ${image} (${mib(made.bytes)} MiB) in ${(buildMs / 1000).toFixed(1)} s`);
  }
  if (options.out) {
    await copyFile(image, options.out);
    result.path = options.out;
  }
  return result;
}

/**
 * The mmdebstrap tarball of a variant in the cache (`name.base-KEY.tar`, KEY a hash of every input
 * of mmdebstrap): with `check`, made first when it is missing (or `rebuild`).
 * @param {DebianVariant & {
 *   cacheDir: string, tools: Record<"mmdebstrap", string>, log: (line: string) => void,
 *   check: boolean, rebuild?: boolean,
 * }} options
 * @returns {Promise<{ base: string, baseKey: string }>}
 */
async function debianTarball({ name, extraPackages, cacheDir, tools, log, check, rebuild }) {
  const packages = [...DEBIAN_PACKAGES, ...(extraPackages ?? [])].sort();
  const baseKey = hashOf({
    GENERATION,
    suite: DEBIAN_SUITE,
    mirror: DEBIAN_MIRROR,
    packages,
    dpkg: DPKG_EXCLUDES,
    epoch: SOURCE_DATE_EPOCH,
    mmdebstrap: (await run(tools.mmdebstrap, ["--version"])).stdout.trim(),
  });
  const base = join(cacheDir, `${name}.base-${baseKey}.tar`);
  if (check && (rebuild || !existsSync(base))) {
    await mkdir(cacheDir, { recursive: true });
    await mmdebstrap(tools.mmdebstrap, packages, base, log);
  } else if (check) log(`debian ${name}: cached mmdebstrap tarball ${base}`);
  return { base, baseKey };
}

/**
 * Unpacks a Debian root into `dir` as buildDebianImage does before making its image (the variant's
 * cached mmdebstrap tarball, the kernel's modules, the files of this script for `hostname`, new
 * mtimes clamped), for those who need the tree itself (bench/updates.mjs). `hostname` defaults to
 * the variant's name, which names the cached tarball: variants with other packages can share one.
 * @param {DebianVariant & {
 *   kernel: import("./kernel.mjs").Kernel, dir: string, hostname?: string,
 *   cacheDir?: string, log?: (line: string) => void,
 * }} options
 * @returns {Promise<{ tree: string, packages: string[], remove: () => Promise<void> }>}
 */
export async function prepareDebianTree(options) {
  const log = options.log ?? (() => {});
  const cacheDir = join(options.cacheDir ?? bootCacheDir(), "debian");
  const tools = requireTools(["mmdebstrap", "depmod", "tar", "dpkg-query"]);
  const { base } = await debianTarball({ ...options, cacheDir, tools, log, check: true });
  const hostname = options.hostname ?? options.name;
  const asRoot = rootRunner(tools.mmdebstrap);
  const tree = options.dir;
  await asRoot("rm", ["-rf", tree]);
  await mkdir(tree, { recursive: true });
  const files = rootFiles(hostname, debianMarker(hostname));
  const packages = await unpackRoot({ base, kernel: options.kernel, files, tree, tools, asRoot });
  return { tree, packages, remove: () => asRoot("rm", ["-rf", tree]).then(() => {}) };
}

/**
 * The files this script adds to the mmdebstrap root, path → [mode, text]: hostname, the marker
 * unit and its script, and the masks.
 *
 * Machine-id policy: /etc/machine-id stays empty, as mmdebstrap leaves it, so every machine that
 * boots this shared image gets a fresh random id each boot (systemd makes one and mounts it over
 * the file); one id baked in would make every machine the same one. An empty id makes every boot a
 * first boot, and systemd-firstboot would then prompt on the console for a locale and a root
 * password: it is masked. The root fsck is masked too: the root device is read-only.
 * @param {string} name
 * @param {string} marker
 * @returns {Record<string, [number, string]>}
 */
function rootFiles(name, marker) {
  const unit = "edgeboot-marker.service";
  return {
    "etc/hostname": [0o644, `${name}\n`],
    "etc/hosts": [0o644, `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n::1\tlocalhost\n`],
    [`etc/systemd/system/${unit}`]: [
      0o644,
      `[Unit]
Description=edgeboot: print the boot marker on the console, then power off
# Ordered after the target that wants it: it runs once multi-user.target is reached.
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/edgeboot-marker

[Install]
WantedBy=multi-user.target
`,
    ],
    [`etc/systemd/system/multi-user.target.wants/${unit}`]: [0o777, `/etc/systemd/system/${unit}`],
    "etc/systemd/system/systemd-firstboot.service": [0o777, "/dev/null"],
    "etc/systemd/system/systemd-fsck-root.service": [0o777, "/dev/null"],
    "usr/local/sbin/edgeboot-marker": [
      0o755,
      `#!/bin/sh
# Says on the console that multi-user.target was reached (seconds since the kernel started, from
# /proc/uptime: systemd-analyze cannot answer while the boot is still running), then powers off.
read -r uptime _ < /proc/uptime
# What the guest read from its root device, when that is the fetcher's /dev/nbd0.
[ -r /sys/block/nbd0/stat ] && echo "${NBD_STAT_LINE} $(cat /sys/block/nbd0/stat)" > /dev/console
failed=$(systemctl list-units --state=failed --plain --no-legend | awk '{print $1}' | xargs)
[ -n "$failed" ] && echo "edgeboot: failed units: $failed" > /dev/console
echo "${marker} uptime=$uptime failed-units=$(echo $failed | wc -w)" > /dev/console
# After the marker (so that its time does not include this): the fetcher's CPU seconds, and its
# CPU profile when the initramfs started it under the profiler (edgeboot.cpuprof=: the directory
# is in its environment; SIGUSR2 makes it write the profile there, on the cache disk).
fetcher=
for stat in /proc/[0-9]*/stat; do
  read -r pid comm rest < "$stat" || continue
  [ "$comm" = "(node)" ] && fetcher=$pid && break
done 2>/dev/null
if [ -n "$fetcher" ]; then
  cpu=$(sed 's/^.*) //' /proc/$fetcher/stat | awk -v hz="$(getconf CLK_TCK)" '{ printf "user=%.2f sys=%.2f", $12 / hz, $13 / hz }')
  echo "edgeboot: ${FETCHER_CPU_WORDS} $cpu s at marker" > /dev/console
  profdir=$(tr '\\0' '\\n' < /proc/$fetcher/environ | sed -n 's/^EDGEBOOT_CPU_PROF_DIR=//p')
  if [ -n "$profdir" ]; then
    kill -USR2 $fetcher
    tries=0
    until ls /proc/$fetcher/root$profdir/*.cpuprofile >/dev/null 2>&1 || [ $tries -ge 300 ]; do
      tries=$((tries + 1))
      sleep 0.2
    done
    echo "${CPU_PROFILE_LINE} ($(ls /proc/$fetcher/root$profdir/ | grep -c 'cpuprofile$') file)" > /dev/console
  fi
fi
systemctl poweroff --no-block
`,
    ],
  };
}

/**
 * Runs mmdebstrap (minbase, the given packages) into a tarball, atomically.
 * @param {string} tool
 * @param {string[]} packages
 * @param {string} out
 * @param {(line: string) => void} log
 */
async function mmdebstrap(tool, packages, out, log) {
  const partial = `${out}.partial-${process.pid}`;
  log(`debian: mmdebstrap ${DEBIAN_SUITE} minbase + ${packages.join(",")} (about a minute)`);
  const started = performance.now();
  try {
    await run(
      tool,
      [
        "--variant=minbase",
        `--include=${packages.join(",")}`,
        ...DPKG_EXCLUDES.map((option) => `--dpkgopt=${option}`),
        "--format=tar",
        DEBIAN_SUITE,
        partial,
        DEBIAN_MIRROR,
      ],
      { env: { ...process.env, SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) } },
    );
    await rename(partial, out);
  } finally {
    await rm(partial, { force: true });
  }
  const { size } = await stat(out);
  log(`debian: mmdebstrap done in ${seconds(started)} s (${mib(size)} MiB tarball)`);
}

/** The environment of every command of a build: every time is SOURCE_DATE_EPOCH. */
const BUILD_ENV = {
  ...process.env,
  E2FSPROGS_FAKE_TIME: String(SOURCE_DATE_EPOCH),
  SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH),
};

/**
 * Runs commands that create, read or remove files owned by others: directly as root, otherwise in
 * mmdebstrap's user namespace (the subuid range), where the tree's owners are real.
 * @param {string} mmdebstrapPath
 * @returns {(file: string, args: string[]) => Promise<{ stdout: string, stderr: string }>}
 */
function rootRunner(mmdebstrapPath) {
  const root = process.getuid?.() === 0;
  return (file, args) =>
    root
      ? run(file, args, { env: BUILD_ENV })
      : run(mmdebstrapPath, ["--unshare-helper", file, ...args], { env: BUILD_ENV });
}

/**
 * Unpacks the tarball into `tree`, adds the kernel's modules (with depmod's index) and `files`,
 * and clamps the new files' mtimes to SOURCE_DATE_EPOCH.
 * @param {{
 *   base: string, kernel: import("./kernel.mjs").Kernel, files: Record<string, [number, string]>,
 *   tree: string, tools: Record<"depmod" | "tar", string>,
 *   asRoot: ReturnType<typeof rootRunner>,
 * }} options
 * @returns {Promise<string[]>} `name version` of every package installed in it
 */
async function unpackRoot({ base, kernel, files, tree, tools, asRoot }) {
  await asRoot(tools.tar, ["-xpf", base, "--numeric-owner", "-C", tree]);
  const modules = join(tree, "usr", "lib", "modules", kernel.version);
  await mkdir(join(modules, ".."), { recursive: true });
  await asRoot("cp", ["-a", kernel.modulesDir, modules]);
  await run(tools.depmod, ["-b", tree, kernel.version], { env: BUILD_ENV });
  for (const [path, [mode, text]] of Object.entries(files)) {
    const at = join(tree, path);
    await mkdir(join(at, ".."), { recursive: true });
    await rm(at, { force: true });
    if (mode === 0o777) await run("ln", ["-s", text, at]);
    else await writeFile(at, text, { mode });
  }
  const packages = (
    await run("dpkg-query", [
      "--admindir",
      join(tree, "var/lib/dpkg"),
      "-W",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
      "-f=${Package} ${Version}\\n",
    ])
  ).stdout
    .trim()
    .split("\n");
  // New files' mtimes are now: clamp them (edgeboot image pins access and change times).
  const epoch = `@${SOURCE_DATE_EPOCH}`;
  await asRoot("find", [tree, "-newermt", epoch, "-exec", "touch", "-h", "-d", epoch, "{}", "+"]);
  return packages;
}

/**
 * Unpacks the root (unpackRoot) and writes its ext4 image atomically with `edgeboot image` (the
 * built CLI: mke2fs -d with the UUID, hash seed and every time pinned).
 * @param {{
 *   name: string, base: string, kernel: import("./kernel.mjs").Kernel,
 *   files: Record<string, [number, string]>, image: string,
 *   tools: Record<"depmod" | "tar" | "mmdebstrap", string>,
 *   log: (line: string) => void,
 * }} options
 * @returns {Promise<{ bytes: number, sha256: string, packages: string[] }>}
 */
async function makeImage({ name, base, kernel, files, image, tools, log }) {
  const started = performance.now();
  const work = `${image}.work-${process.pid}`;
  const tree = join(work, "root");
  const partial = join(work, "image");
  const asRoot = rootRunner(tools.mmdebstrap);
  await asRoot("rm", ["-rf", work]);
  await mkdir(tree, { recursive: true });
  try {
    const packages = await unpackRoot({ base, kernel, files, tree, tools, asRoot });
    log(`debian ${name}: edgeboot image (reproducible ext4)`);
    await asRoot(process.execPath, [
      ...[join(REPO, "bin", "edgeboot.js"), "image", tree, "-o", partial],
      ...["--label", name.slice(0, 16), "--uuid", stableUuid(`edgeboot-debian-${name}`)],
    ]);
    await rename(partial, image);
    const digest = await fileDigest(image);
    log(`debian ${name}: image made in ${seconds(started)} s`);
    return { bytes: digest.size, sha256: digest.sha256, packages };
  } finally {
    await asRoot("rm", ["-rf", work]);
  }
}

/** The sources of `edgeboot image`, which makes the ext4 image: part of the image's cache key. */
const IMAGE_SOURCES = ["image.ts", "host.ts", "tree-size.ts"].map((file) =>
  join(REPO, "src", "publish", "ext4", file),
);

/**
 * The SHA-256 of the files' contents, one after the other.
 * @param {string[]} paths
 */
async function sourcesDigest(paths) {
  const hash = createHash("sha256");
  for (const path of paths) hash.update(await readFile(path));
  return hash.digest("hex");
}

/**
 * Removes this rootfs's other cache entries (older keys), keeping `keep`.
 * @param {string} cacheDir
 * @param {string} name
 * @param {string[]} keep
 */
async function prune(cacheDir, name, keep) {
  for (const entry of await readdir(cacheDir)) {
    const path = join(cacheDir, entry);
    const ours = entry.startsWith(`${name}-`) || entry.startsWith(`${name}.base-`);
    if (ours && !keep.includes(path) && !entry.includes(".work-") && !entry.includes(".partial-")) {
      await rm(path, { force: true });
    }
  }
}

/**
 * @param {string} path
 * @param {string} text
 */
async function writeAtomically(path, text) {
  const partial = `${path}.partial-${process.pid}`;
  await writeFile(partial, text);
  await rename(partial, path);
}

/**
 * A short hex digest of a JSON value.
 * @param {unknown} value
 */
function hashOf(value) {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

/** @param {number} bytes */
const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
/** @param {number} since */
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      name: { type: "string", default: "debian-a" },
      out: { type: "string" },
      rebuild: { type: "boolean" },
    },
  });
  const { obtainKernel } = await import("./kernel.mjs");
  /** @param {string} line */
  const log = (line) => process.stderr.write(`${line}\n`);
  const variant = DEBIAN_VARIANTS[values.name] ?? { name: values.name };
  const kernel = await obtainKernel({ log });
  const built = await buildDebianImage({
    ...variant,
    kernel,
    out: values.out,
    rebuild: values.rebuild,
    log,
  });
  process.stdout.write(`${built.path} ${built.bytes} bytes sha256 ${built.sha256}\n`);
}
