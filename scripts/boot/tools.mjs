// Host tools the tests and the boot demo need, found on PATH (and in the sbin directories, which a
// user's PATH on Debian lacks), with the Debian package that provides each when it is missing.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, createReadStream, existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/**
 * Everything on the host that `npm test` (and the boot demo) drives, the Debian package that ships
 * it, and what for: the ONE list from which the tests' global setup checks the machine
 * (`missingHostTools`) and `.ci/run` installs (`node scripts/test-tools.mjs missing-packages`).
 * A `tool` is found on PATH or in the sbin directories; a `file` (a qemu driver, a boot ROM) by its
 * path.
 * @type {{ tool?: string, file?: string, package: string, for: string, boot?: boolean }[]}
 */
export const HOST_TOOLS = [
  { tool: "casync", package: "casync", for: "casync extract against the edge's casync store" },
  { tool: "qemu-img", package: "qemu-utils", for: "qemu-img reads /image over HTTP and NBD" },
  { tool: "qemu-io", package: "qemu-utils", for: "qemu-io reads ranges over HTTP and NBD" },
  {
    file: "/usr/lib/x86_64-linux-gnu/qemu/block-curl.so",
    package: "qemu-block-extra",
    for: "qemu's curl block driver (http:// images)",
  },
  { tool: "nbdinfo", package: "libnbd-bin", for: "nbdinfo lists edgeboot nbd's exports" },
  { tool: "nbdcopy", package: "libnbd-bin", for: "nbdcopy reads images from edgeboot nbd" },
  { tool: "nbdkit", package: "nbdkit", for: "nbdkit's curl plugin reads /image" },
  { tool: "httpfs2", package: "httpfs2", for: "httpfs2 mounts /image with FUSE" },
  { tool: "fusermount", package: "fuse3", for: "unmounting httpfs2" },
  { tool: "chromium", package: "chromium", for: "the dashboard's test in a real browser" },
  { tool: "openssl", package: "openssl", for: "the dashboard's key fingerprint command" },
  { tool: "rsync", package: "rsync", for: "edgeboot image --base writes the tree into a copy" },
  { tool: "fuse2fs", package: "fuse2fs", for: "edgeboot image --base without root" },
  { tool: "resize2fs", package: "e2fsprogs", for: "edgeboot image --base grows the image" },
  ...[
    { tool: "qemu-system-x86_64", package: "qemu-system-x86", for: "booting guests" },
    { tool: "busybox", package: "busybox-static", for: "the guests' userland and initramfs" },
    { tool: "mke2fs", package: "e2fsprogs", for: "the guests' ext4 root images" },
    { tool: "debugfs", package: "e2fsprogs", for: "reproducible ext4 images" },
    { tool: "apt-get", package: "apt", for: "downloading Debian's cloud kernel" },
    { tool: "apt-cache", package: "apt", for: "finding Debian's cloud kernel" },
    { tool: "dpkg-deb", package: "dpkg", for: "unpacking the kernel package" },
    { tool: "dpkg-query", package: "dpkg", for: "the Debian root's package list" },
    { tool: "socat", package: "socat", for: "the guests' only way to the edge (guestfwd)" },
    { tool: "nbd-client", package: "nbd-client", for: "the fetching initramfs" },
    { tool: "cpio", package: "cpio", for: "reading initramfs archives back" },
    { tool: "zstd", package: "zstd", for: "compressing and reading initramfs archives" },
    { tool: "xz", package: "xz-utils", for: ".ko.xz kernel modules" },
    { tool: "mmdebstrap", package: "mmdebstrap", for: "the Debian root that boots systemd" },
    { tool: "depmod", package: "kmod", for: "the Debian root's modules.dep" },
    { tool: "tar", package: "tar", for: "the Debian root's tarball" },
    {
      file: "/usr/lib/ipxe/qemu/efi-virtio.rom",
      package: "ipxe-qemu",
      for: "network boot by iPXE (the NIC's boot ROM)",
    },
  ].map((entry) => ({ ...entry, boot: true })),
];

/** Each tool on HOST_TOOLS, and the Debian package that ships it. */
export const TOOL_PACKAGES = Object.fromEntries(
  HOST_TOOLS.flatMap((entry) => (entry.tool ? [[entry.tool, entry.package]] : [])),
);

/** The Debian packages `npm test` needs, in HOST_TOOLS order, each once. */
export const TEST_PACKAGES = [...new Set(HOST_TOOLS.map((entry) => entry.package))];

/**
 * The Debian packages for booting a guest here: qemu, busybox, e2fsprogs, the fetching
 * initramfs's tools, mmdebstrap and kmod for the Debian root, ipxe-qemu for booting by iPXE. The
 * kernel comes from `apt-get download`, so it needs no package of its own.
 */
export const BOOT_PACKAGES = [
  ...new Set(HOST_TOOLS.filter((entry) => entry.boot).map((entry) => entry.package)),
];

/** The apt-get line that installs `packages`. */
export function aptInstallLine(/** @type {string[]} */ packages) {
  const sudo = process.getuid?.() === 0 ? "" : "sudo ";
  return `${sudo}apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

/**
 * What of HOST_TOOLS this machine lacks, each with one line naming its Debian package, what it is
 * for and the command that installs it.
 * @returns {{ entry: (typeof HOST_TOOLS)[number], line: string }[]}
 */
export function missingHostTools() {
  return HOST_TOOLS.filter((entry) =>
    entry.tool ? !findTool(entry.tool) : !existsSync(/** @type {string} */ (entry.file)),
  ).map((entry) => ({
    entry,
    line:
      `missing ${entry.tool ?? entry.file} (Debian package ${entry.package}, for ${entry.for}): ` +
      aptInstallLine([entry.package]),
  }));
}

/**
 * Finds `name` on PATH, then in /usr/sbin and /sbin.
 * @param {string} name
 * @returns {string | undefined} its absolute path, or undefined when it is nowhere
 */
export function findTool(name) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/**
 * Resolves every tool in `names`, or throws one error naming all that are missing and the
 * `apt-get install` line that provides them.
 * @template {string} T
 * @param {T[]} names
 * @returns {Record<T, string>} tool name → absolute path
 */
export function requireTools(names) {
  /** @type {Record<string, string>} */
  const found = {};
  const missing = [];
  for (const name of names) {
    const path = findTool(name);
    if (path) found[name] = path;
    else missing.push(name);
  }
  if (missing.length > 0) {
    const packages = [
      ...new Set(missing.map((name) => TOOL_PACKAGES[/** @type {never} */ (name)] ?? name)),
    ];
    throw new Error(
      `booting a guest needs ${missing.join(", ")}, not found on PATH. Install them with: ` +
        `apt-get install -y --no-install-recommends ${packages.join(" ")}`,
    );
  }
  return /** @type {Record<T, string>} */ (found);
}

/**
 * Runs a program to completion and gives its output (a Buffer when `options.encoding` is
 * "buffer"); rejects with its stderr when it fails.
 * @param {string} file
 * @param {string[]} args
 * @param {import("node:child_process").ExecFileOptions} [options]
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export function run(file, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { maxBuffer: 64 * 1024 * 1024, encoding: "utf8", ...options },
      (error, stdout, stderr) => {
        if (error) {
          const detail = String(stderr || stdout || "").trim();
          reject(new Error(`${file} ${args.join(" ")} failed: ${detail || error.message}`));
        } else resolve({ stdout: /** @type {string} */ (stdout), stderr: String(stderr) });
      },
    );
  });
}

/**
 * Where the boot artifacts that are worth keeping (the extracted kernel) live:
 * `EDGEBOOT_BOOT_CACHE`, else `$XDG_CACHE_HOME/edgeboot/boot`, else `~/.cache/edgeboot/boot`.
 * @returns {string}
 */
export function bootCacheDir() {
  const env = process.env;
  if (env.EDGEBOOT_BOOT_CACHE) return env.EDGEBOOT_BOOT_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edgeboot", "boot");
}

/**
 * A UUID (version 4 in form) derived from `seed`, so that every build of an image gets the same.
 * @param {string} seed
 * @returns {string}
 */
export function stableUuid(seed) {
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The size and SHA-256 of a file, read as a stream.
 * @param {string} path
 * @returns {Promise<{ size: number, sha256: string }>}
 */
export async function fileDigest(path) {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { size, sha256: hash.digest("hex") };
}
