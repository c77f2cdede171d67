// A minimal initramfs of our own: busybox, the kernel modules the root device needs (virtio-blk
// over PCI for an NBD export attached as a virtio disk), and an /init that loads them, waits for
// the disk, mounts it read-only and switches into it. Nothing in it names the root filesystem: the
// NBD export name qemu connects to decides which one boots.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { staticBusybox } from "./busybox.mjs";
import { cpioNewc } from "./cpio.mjs";
import { run } from "./tools.mjs";

/** The modules a virtio disk on PCI needs; their dependencies are added in load order. */
export const VIRTIO_BLK_MODULES = ["virtio_pci", "virtio_blk"];

/** Printed by the initramfs when it cannot mount the root device, before it powers off. */
export const INITRAMFS_FAILURE = "EDGEBOOT-INITRAMFS-FAIL";

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "${INITRAMFS_FAILURE}: $*"; poweroff -f; }
root=/dev/vda fstype=ext4
for arg in $(cat /proc/cmdline); do
  case "$arg" in root=*) root="\${arg#root=}" ;; rootfstype=*) fstype="\${arg#rootfstype=}" ;; esac
done
for module in $(cat /etc/modules); do
  insmod "/lib/modules/$module.ko" || fail "insmod $module"
done
echo "edgeboot initramfs: loaded $(cat /etc/modules | tr '\\n' ' ')"
tries=0
while [ ! -b "$root" ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 200 ] && fail "no $root after 20 s"
  usleep 100000
done
mkdir -p /newroot
mount -t "$fstype" -o ro "$root" /newroot || fail "mount -t $fstype -o ro $root"
echo "edgeboot initramfs: $root mounted read-only, switching root"
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
`;

/**
 * Builds the initramfs (cpio newc, gzip) at `out`.
 * @param {{ out: string, modulesDir: string, modules?: string[] }} options
 *   `modulesDir` is the kernel's `lib/modules/<version>`; `modules` the roots to load (their
 *   dependencies come first, found in each module's own `.modinfo`).
 * @returns {Promise<{ path: string, bytes: number, modules: string[] }>}
 */
export async function buildInitramfs({ out, modulesDir, modules = VIRTIO_BLK_MODULES }) {
  const busybox = await staticBusybox();
  const loaded = await moduleClosure(modulesDir, modules);
  /** @type {import("./cpio.mjs").CpioEntry[]} */
  const entries = [
    ...["bin", "dev", "etc", "lib", "lib/modules", "newroot", "proc", "sys"].map((path) => ({
      path,
      type: /** @type {const} */ ("dir"),
    })),
    { path: "dev/console", type: "char", mode: 0o600, device: [5, 1] },
    { path: "dev/null", type: "char", mode: 0o666, device: [1, 3] },
    { path: "bin/busybox", type: "file", mode: 0o755, data: busybox.bytes },
    { path: "init", type: "file", mode: 0o755, data: INIT },
    { path: "etc/modules", type: "file", data: `${loaded.map((m) => m.name).join("\n")}\n` },
    ...loaded.map((m) => ({
      path: `lib/modules/${m.name}.ko`,
      type: /** @type {const} */ ("file"),
      data: m.bytes,
    })),
  ];
  const archive = gzipSync(cpioNewc(entries), { level: 6 });
  await writeFile(out, archive);
  return { path: out, bytes: archive.byteLength, modules: loaded.map((m) => m.name) };
}

/**
 * The modules `roots` need, dependencies first, each decompressed (busybox insmod reads plain .ko).
 * @param {string} modulesDir
 * @param {string[]} roots
 * @returns {Promise<{ name: string, bytes: Buffer }[]>}
 */
export async function moduleClosure(modulesDir, roots) {
  /** @type {Map<string, string>} */
  const paths = new Map();
  for (const path of await walk(join(modulesDir, "kernel"))) {
    const match = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(basename(path));
    if (match?.[1]) paths.set(normal(match[1]), path);
  }
  /** @type {{ name: string, bytes: Buffer }[]} */
  const order = [];
  /** @type {Set<string>} */
  const seen = new Set();
  /**
   * @param {string} name
   * @param {string[]} chain the modules that depend on it, outermost first
   * @returns {Promise<void>}
   */
  const visit = async (name, chain) => {
    if (seen.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name]}`);
    const path = paths.get(name);
    if (!path) {
      throw new Error(`no module ${name} under ${modulesDir} (is it built into this kernel?)`);
    }
    const bytes = await readModule(path);
    for (const dep of dependsOf(bytes)) await visit(dep, [...chain, name]);
    seen.add(name);
    order.push({ name, bytes });
  };
  for (const root of roots) await visit(normal(root), []);
  return order;
}

/**
 * The `depends=` list of a module's .modinfo section.
 * @param {Buffer} bytes
 * @returns {string[]}
 */
function dependsOf(bytes) {
  const at = bytes.indexOf("\0depends=");
  if (at < 0) return [];
  const end = bytes.indexOf(0, at + 1);
  const list = bytes.subarray(at + "\0depends=".length, end).toString("latin1");
  return list.split(",").filter(Boolean).map(normal);
}

/**
 * A module file's bytes, decompressed when it ends in .xz, .zst or .gz.
 * @param {string} path
 * @returns {Promise<Buffer>}
 */
async function readModule(path) {
  if (path.endsWith(".ko")) return readFile(path);
  const [tool, args] = path.endsWith(".xz")
    ? ["xz", ["-dc", path]]
    : path.endsWith(".zst")
      ? ["zstd", ["-dcq", path]]
      : ["gzip", ["-dc", path]];
  const { stdout } = await run(tool, args, { encoding: "buffer" });
  return /** @type {Buffer} */ (/** @type {unknown} */ (stdout));
}

/**
 * A module name as the kernel compares them (`-` and `_` are the same).
 * @param {string} name
 * @returns {string}
 */
function normal(name) {
  return name.replaceAll("-", "_");
}

/**
 * Every file under `dir`, recursively.
 * @param {string} dir
 * @returns {Promise<string[]>}
 */
async function walk(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}
