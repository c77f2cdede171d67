// Small root filesystems of our own, made from busybox-static: an ext4 image (mke2fs -d, no mount,
// no root) whose /sbin/init says which rootfs it is, checks a data file read through the whole
// path (edge → NBD → virtio disk), prints a marker on the console and powers the guest off.
import { createHash } from "node:crypto";
import { lutimes, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { staticBusybox } from "./busybox.mjs";
import { fileDigest, requireTools, run, stableUuid } from "./tools.mjs";

/**
 * What makes one rootfs differ from another.
 * @typedef {object} RootfsVariant
 * @property {string} name        the rootfs name it is published under (and says it is)
 * @property {string} description one line printed at boot
 * @property {number} sizeMiB     image size
 * @property {number} dataBytes   size of its data file, checked by SHA-256 at boot
 * @property {number} unreadBytes size of a file the boot never reads (what lazy loading saves)
 * @property {number} seed        seed of the data file's pseudo-random bytes
 */

/** The two root filesystems the demo and its test publish and boot. */
export const ROOTFS_VARIANTS = /** @type {Record<string, RootfsVariant>} */ ({
  alpha: {
    name: "alpha",
    description: "edgeboot demo rootfs alpha: busybox, 1 MiB checked at boot, 8 MiB not read",
    sizeMiB: 24,
    dataBytes: 1 << 20,
    unreadBytes: 8 << 20,
    seed: 1,
  },
  beta: {
    name: "beta",
    description: "edgeboot demo rootfs beta: busybox, 3 MiB checked at boot, 12 MiB not read",
    sizeMiB: 32,
    dataBytes: 3 << 20,
    unreadBytes: 12 << 20,
    seed: 2,
  },
});

/**
 * The line a rootfs prints on the console once it has booted and its data checked out.
 * @param {string} name
 */
export function bootMarker(name) {
  return `EDGEBOOT-BOOT-OK ${name}`;
}

/** Printed instead of the marker when the data file does not match its hash. */
export const DATA_FAILURE = "EDGEBOOT-BOOT-BAD";

const FIXED_TIME = 1_700_000_000; // every timestamp in the image, so builds repeat byte for byte

/**
 * Builds the ext4 image of `variant` at `out`.
 * @param {RootfsVariant & { out: string }} variant
 * @returns {Promise<{ path: string, bytes: number, sha256: string }>}
 */
export async function buildRootfs(variant) {
  const { mke2fs, debugfs } = requireTools(["mke2fs", "debugfs"]);
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FIXED_TIME) };
  const busybox = await staticBusybox();
  const staging = await mkdtemp(join(dirname(variant.out), `.rootfs-${variant.name}-`));
  try {
    const tree = join(staging, "root");
    /** @type {string[]} */
    const paths = [];
    /** @param {string} path */
    const dir = async (path) => {
      await mkdir(join(tree, path), { recursive: true });
      paths.push(path);
    };
    /**
     * @param {string} path
     * @param {string | Uint8Array} data
     * @param {number} [mode]
     */
    const file = async (path, data, mode = 0o644) => {
      await writeFile(join(tree, path), data, { mode });
      paths.push(path);
    };
    for (const path of ["bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "usr", "usr/share"]) {
      await dir(path);
    }
    await dir("usr/share/edgeboot");
    await file("bin/busybox", busybox.bytes, 0o755);
    for (const applet of busybox.applets) {
      if (applet === "busybox") continue;
      await symlink("busybox", join(tree, "bin", applet));
      paths.push(`bin/${applet}`);
    }
    const data = pseudoRandom(variant.dataBytes, variant.seed);
    const digest = createHash("sha256").update(data).digest("hex");
    await file("usr/share/edgeboot/data.bin", data);
    await file(
      "usr/share/edgeboot/unread.bin",
      pseudoRandom(variant.unreadBytes, variant.seed + 100),
    );
    await file("etc/edgeboot-data.sha256", `${digest}  /usr/share/edgeboot/data.bin\n`);
    await file("etc/hostname", `${variant.name}\n`);
    await file(
      "etc/edgeboot-release",
      `NAME=${variant.name}\nDESCRIPTION="${variant.description}"\n`,
    );
    await file("sbin/init", initScript(variant.name), 0o755);
    for (const path of ["", ...paths]) {
      const at = join(tree, path);
      if (path.startsWith("bin/") && path !== "bin/busybox") {
        await lutimes(at, FIXED_TIME, FIXED_TIME);
      } else await utimes(at, FIXED_TIME, FIXED_TIME);
    }
    const uuid = stableUuid(`edgeboot-rootfs-${variant.name}`);
    await run(
      mke2fs,
      [
        "-q",
        "-F",
        "-t",
        "ext4",
        "-b",
        "4096",
        "-m",
        "0",
        "-N",
        "1024",
        "-O",
        "^has_journal",
        "-L",
        variant.name,
        "-U",
        uuid,
        "-E",
        `hash_seed=${uuid},root_owner=0:0,lazy_itable_init=0`,
        "-d",
        tree,
        variant.out,
        `${variant.sizeMiB}M`,
      ],
      { env },
    );
    // mke2fs -d copies each file's ctime, which no call can set: pin them all with debugfs.
    const commands = ["", ...paths].map((path) => `sif "/${path}" ctime @${FIXED_TIME}`);
    await writeFile(join(staging, "ctime.debugfs"), `${commands.join("\n")}\n`);
    await run(debugfs, ["-w", "-f", join(staging, "ctime.debugfs"), variant.out], { env });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const { size, sha256 } = await fileDigest(variant.out);
  return { path: variant.out, bytes: size, sha256 };
}

/**
 * The rootfs's /sbin/init: mount the kernel file systems, say who we are, check, power off.
 * @param {string} name
 * @returns {string}
 */
function initScript(name) {
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /etc/edgeboot-release
echo "edgeboot rootfs $NAME: $DESCRIPTION"
echo "edgeboot rootfs $NAME: / is $(awk '$2 == "/" { print $1, $3, $4 }' /proc/mounts)"
if sha256sum -c -s /etc/edgeboot-data.sha256; then
  echo "${bootMarker(name)}"
else
  echo "${DATA_FAILURE} ${name}: /usr/share/edgeboot/data.bin does not match its SHA-256"
fi
poweroff -f
`;
}

/**
 * Deterministic bytes that do not compress, so the data file costs real chunks.
 * @param {number} size
 * @param {number} seed
 * @returns {Buffer}
 */
function pseudoRandom(size, seed) {
  const out = Buffer.alloc(size);
  let block = Buffer.alloc(0);
  for (let offset = 0, counter = 0; offset < size; offset += block.byteLength, counter++) {
    block = createHash("sha256").update(`edgeboot-boot-${seed}-${counter}`).digest();
    block.copy(out, offset);
  }
  return out;
}
