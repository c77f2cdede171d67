// A Debian cloud kernel for the guest, without installing it: `apt-get download` the package and
// `dpkg-deb -x` it into a cache directory. The cloud flavour's vmlinuz is LZ4 (faster to unpack
// under emulation than the generic XZ one) and has ext4 and NVMe built in; virtio is modules.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bootCacheDir, requireTools, run } from "./tools.mjs";

/**
 * An extracted kernel package.
 * @typedef {object} Kernel
 * @property {string} version   the kernel release, e.g. `6.1.0-56-cloud-amd64`
 * @property {string} vmlinuz   path of the bootable image
 * @property {string} modulesDir path of `lib/modules/<version>`
 * @property {string} root      the directory the package was extracted into
 */

const META_PACKAGE = "linux-image-cloud-amd64";
const STAMP = ".edgeboot-complete";

/**
 * Gives the cloud kernel, downloading and extracting it into the cache the first time. Runs
 * `apt-get update` only when apt knows no candidate for the kernel (empty package lists).
 * @param {{ cacheDir?: string, log?: (line: string) => void }} [options]
 * @returns {Promise<Kernel>}
 */
export async function obtainKernel(options = {}) {
  const cacheDir = options.cacheDir ?? bootCacheDir();
  const log = options.log ?? (() => {});
  const tools = requireTools(["apt-get", "apt-cache", "dpkg-deb"]);
  let version = await candidateVersion(tools["apt-cache"]);
  if (!version) {
    const cached = await cachedKernel(cacheDir);
    if (cached) return cached;
    log("apt knows no cloud kernel yet: apt-get update");
    await aptUpdate(tools["apt-get"]);
    version = await candidateVersion(tools["apt-cache"]);
    if (!version) {
      throw new Error(`apt-cache knows no ${META_PACKAGE} even after apt-get update`);
    }
  }
  const root = join(cacheDir, `linux-image-${version}`);
  if (existsSync(join(root, STAMP))) return kernelAt(root, version);

  const pkg = `linux-image-${version}`;
  log(`downloading ${pkg} (apt-get download) into ${cacheDir}`);
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, "download-"));
  try {
    // apt warns that its sandbox user cannot reach a private directory, and then downloads anyway.
    // A stale package list names a version the mirror no longer has: update once and retry.
    await run(tools["apt-get"], ["download", "-q", pkg], { cwd: work }).catch(async (error) => {
      log(`apt-get download failed (${error.message.split("\n")[0]}): apt-get update, retrying`);
      await aptUpdate(tools["apt-get"]);
      await run(tools["apt-get"], ["download", "-q", pkg], { cwd: work });
    });
    const deb = (await readdir(work)).find((name) => name.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${work}`);
    await run(tools["dpkg-deb"], ["-x", join(work, deb), join(work, "x")]);
    await writeFile(join(work, "x", STAMP), `${deb}\n`);
    await rm(root, { recursive: true, force: true });
    await rename(join(work, "x"), root);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return kernelAt(root, version);
}

/**
 * The kernel release apt would install for the cloud meta-package, e.g. `6.1.0-56-cloud-amd64`.
 * @param {string} aptCache path of apt-cache
 * @returns {Promise<string | undefined>}
 */
export async function candidateVersion(aptCache) {
  const { stdout } = await run(aptCache, ["depends", META_PACKAGE]).catch(() => ({ stdout: "" }));
  return /Depends: linux-image-(\S+-cloud-amd64)\b/.exec(stdout)?.[1];
}

/** @param {string} aptGet path of apt-get */
async function aptUpdate(aptGet) {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run(aptGet, ["update", "-qq"]);
  else await run("sudo", ["-n", aptGet, "update", "-qq"]);
}

/**
 * Any kernel already extracted into the cache (used offline, when apt lists are empty).
 * @param {string} cacheDir
 * @returns {Promise<Kernel | undefined>}
 */
async function cachedKernel(cacheDir) {
  const names = await readdir(cacheDir).catch(() => []);
  for (const name of names.sort().reverse()) {
    const match = /^linux-image-(.+-cloud-amd64)$/.exec(name);
    if (match?.[1] && existsSync(join(cacheDir, name, STAMP))) {
      return kernelAt(join(cacheDir, name), match[1]);
    }
  }
  return undefined;
}

/**
 * @param {string} root
 * @param {string} version
 * @returns {Kernel}
 */
function kernelAt(root, version) {
  /** @type {Kernel} */
  const kernel = {
    version,
    vmlinuz: join(root, "boot", `vmlinuz-${version}`),
    modulesDir: join(root, "lib", "modules", version),
    root,
  };
  for (const path of [kernel.vmlinuz, kernel.modulesDir]) {
    if (!existsSync(path)) throw new Error(`the kernel package in ${root} has no ${path}`);
  }
  return kernel;
}
