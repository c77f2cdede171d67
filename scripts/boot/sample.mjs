// The bootable sample `npm start` publishes beside the tar sample: the busybox root of rootfs.mjs,
// Debian's cloud kernel (kernel.mjs) and the fetching initramfs of `edgeboot initramfs` (Node, the
// CLI, nbd-client, the sample's signing key baked in), published signed with --kernel --initrd
// --cmdline; and the ONE qemu command that boots it from the edge alone: `-boot n`, Debian's iPXE
// ROM on a restricted user network whose one way out is 10.0.2.100:80 (socat to the edge's
// loopback port) → /boot.ipxe → the sample's script → kernel + initramfs → /init fetches the root
// from the same edge → the root prints its marker and powers off.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { edgeboot } from "./cli.mjs";
import { INITRAMFS_FAILURE } from "./initramfs.mjs";
import { obtainKernel } from "./kernel.mjs";
import { qemuArgs } from "./qemu.mjs";
import { bootMarker, buildRootfs, DATA_FAILURE } from "./rootfs.mjs";
import { aptInstallLine, findTool, HOST_TOOLS } from "./tools.mjs";

/** The bootable sample's rootfs name. */
export const BOOT_SAMPLE_NAME = "sample-boot";

/** The kernel command line published with it; the edge appends `edgeboot.*`. */
export const BOOT_SAMPLE_CMDLINE = "console=ttyS0 net.ifnames=0 panic=-1";

/** The edge's address inside the guest (a guestfwd rule). */
export const EDGE_IN_GUEST = "10.0.2.100";

/** The line the sample prints once it has booted from the edge and checked its data. */
export const BOOT_SAMPLE_MARKER = bootMarker(BOOT_SAMPLE_NAME);

/** @type {import("./rootfs.mjs").RootfsVariant} */
const VARIANT = {
  name: BOOT_SAMPLE_NAME,
  description: "edgeboot's bootable sample: busybox, its root fetched by the guest from the edge",
  sizeMiB: 16,
  dataBytes: 1 << 20,
  unreadBytes: 4 << 20,
  seed: 16,
};

/** The tools (or files) of HOST_TOOLS that building and booting the sample take. */
const NEEDED = [
  ...["qemu-system-x86_64", "busybox", "mke2fs", "debugfs", "socat", "nbd-client"],
  ...["apt-get", "apt-cache", "dpkg-deb", "/usr/lib/ipxe/qemu/efi-virtio.rom"],
];

/**
 * Why the bootable sample cannot be built or booted here, one line per missing tool and a last
 * line with the apt-get command; empty when nothing is missing.
 * @returns {string[]}
 */
export function bootSampleMissing() {
  const missing = HOST_TOOLS.filter((entry) => {
    const what = entry.tool ?? entry.file ?? "";
    if (!NEEDED.includes(what)) return false;
    return entry.tool ? !findTool(entry.tool) : !existsSync(what);
  });
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((entry) => entry.package))];
  return [
    ...missing.map(
      (entry) => `missing ${entry.tool ?? entry.file} (Debian package ${entry.package})`,
    ),
    findTool("apt-get")
      ? `install: ${aptInstallLine(packages)}`
      : "this machine has no apt-get: the bootable sample is built from Debian's packages",
  ];
}

/**
 * Builds the sample (image, kernel, initramfs; signing key at `keyFile` made if absent) in
 * `workDir` and publishes it signed to `edge`.
 * @param {{ edge: string, token: string, workDir: string, keyFile: string,
 *   log?: (line: string) => void }} options
 * @returns {Promise<{ name: string, publicKey: string }>}
 */
export async function publishBootSample({ edge, token, workDir, keyFile, log = () => {} }) {
  await mkdir(workDir, { recursive: true });
  const kernel = await obtainKernel({ log });
  log(`kernel ${kernel.version}`);
  const image = join(workDir, `${BOOT_SAMPLE_NAME}.img`);
  await buildRootfs({ ...VARIANT, out: image });
  if (!existsSync(keyFile)) await edgeboot(["keygen", keyFile]);
  const publicKey = `${keyFile}.pub`;
  const initrd = join(workDir, `${BOOT_SAMPLE_NAME}.initrd`);
  log("building the fetching initramfs (edgeboot initramfs: Node, the CLI, nbd-client)");
  await edgeboot(
    ["initramfs", "-o", initrd, "--modules-dir", kernel.modulesDir, "--trust", publicKey],
    {},
  );
  log(`publishing ${BOOT_SAMPLE_NAME} with its kernel and initramfs`);
  await edgeboot(
    [
      ...["publish", image, "--name", BOOT_SAMPLE_NAME, "--edge", edge, "--key", keyFile],
      ...["--kernel", kernel.vmlinuz, "--initrd", initrd, "--cmdline", BOOT_SAMPLE_CMDLINE],
    ],
    { EDGEBOOT_TOKEN: token },
  );
  return { name: BOOT_SAMPLE_NAME, publicKey };
}

/**
 * How to boot the sample from an edge on the host's loopback port `hostPort`: bootGuest's options
 * (what the test boots) and the same as one shell command (what `npm start` prints).
 * @param {number} hostPort
 * @returns {{ options: import("./qemu.mjs").BootOptions, argv: string[], command: string }}
 */
export function bootSampleCommand(hostPort) {
  /** @type {import("./qemu.mjs").BootOptions} */
  const options = {
    bootfile: `http://${EDGE_IN_GUEST}/boot.ipxe`,
    network: [{ guest: `${EDGE_IN_GUEST}:80`, hostPort }],
    memoryMiB: 1024,
    cpus: 2,
    marker: BOOT_SAMPLE_MARKER,
    failures: [INITRAMFS_FAILURE, DATA_FAILURE],
  };
  const argv = ["qemu-system-x86_64", ...qemuArgs(options)];
  return { options, argv, command: argv.map(shellQuote).join(" ") };
}

/**
 * `word` as one shell word: as it is when it holds only safe characters, else in single quotes.
 * @param {string} word
 * @returns {string}
 */
export function shellQuote(word) {
  return /^[A-Za-z0-9_./:=,+@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
