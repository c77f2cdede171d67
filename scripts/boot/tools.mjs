// Host tools the boot demo and its test need, found on PATH (and in the sbin directories, which a
// user's PATH on Debian lacks), with the Debian package that provides each when it is missing.
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/** Each tool the boot path uses, and the Debian package that ships it. */
export const TOOL_PACKAGES = {
  "qemu-system-x86_64": "qemu-system-x86",
  busybox: "busybox-static",
  mke2fs: "e2fsprogs",
  debugfs: "e2fsprogs",
  "apt-get": "apt",
  "apt-cache": "apt",
  "dpkg-deb": "dpkg",
  socat: "socat",
  "nbd-client": "nbd-client",
  cpio: "cpio",
  zstd: "zstd",
  xz: "xz-utils",
  "dpkg-query": "dpkg",
  mmdebstrap: "mmdebstrap",
  depmod: "kmod",
  tar: "tar",
};

/**
 * The Debian packages to install for booting a guest here (the line for `.ci/run`): qemu for the
 * guest, a static busybox for its userland, e2fsprogs for the ext4 images; nbd-client, socat, cpio,
 * zstd and xz-utils for the initramfs that fetches its own root and its tests; mmdebstrap and kmod
 * for the Debian root (debian.mjs), ipxe-qemu for booting by iPXE. The kernel comes from
 * `apt-get download`, so it needs no package of its own.
 */
export const BOOT_PACKAGES = [
  ...["qemu-system-x86", "busybox-static", "e2fsprogs"],
  ...["nbd-client", "socat", "cpio", "zstd", "xz-utils"],
  ...["mmdebstrap", "kmod", "ipxe-qemu"],
];

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
