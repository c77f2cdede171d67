// A machine boots a real Debian root from the edge URL alone, the whole chain in one place for the
// boot test, the demo and the benchmark:
//
//   prepareNetboot: Debian's cloud kernel → two Debian bookworm roots (debian.mjs) → a publisher
//   key → `edgeboot initramfs --modules-dir … --trust KEY.pub` → a local edge (the Worker in
//   Miniflare, PUBLIC_URL=http://10.0.2.100 and the boot menu vars) behind a counting relay →
//   `edgeboot publish IMG --key … --kernel … --initrd … --cmdline …` for each root.
//
//   bootFromEdge: qemu with no -kernel and no -drive: `-boot n`, Debian's iPXE ROM on the virtio
//   NIC, DHCP on a restricted user network whose one way out is 10.0.2.100:80 (guestfwd, `-cmd:socat`
//   to the relay's loopback port) → /boot.ipxe → the menu (an entry typed on the serial console, or
//   its default after the timeout) → the rootfs's boot script → kernel + initramfs → /init: DHCP,
//   `edgeboot nbd --pin` in the guest, nbd-client, overlay, switch_root → systemd →
//   multi-user.target → the root's marker unit prints `EDGEBOOT-DEBIAN-OK <name> uptime=…
//   failed-units=N` and powers off.
import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { startProxy } from "../../testing/http-proxy.mjs";
import { edgeboot } from "./cli.mjs";
import { buildDebianImage, DEBIAN_VARIANTS, debianMarker } from "./debian.mjs";
import { buildAll, startLocalEdge } from "./edge.mjs";
import { INITRAMFS_FAILURE } from "./initramfs.mjs";
import { obtainKernel } from "./kernel.mjs";
import { bootGuest, consoleText, IPXE_VIRTIO_ROM } from "./qemu.mjs";
import { requireTools, run } from "./tools.mjs";

/** The edge's address inside the guest (a guestfwd rule), and so its PUBLIC_URL. */
export const EDGE_IN_GUEST = "10.0.2.100";
/** The URL the guest's iPXE fetches first. */
export const BOOT_URL = `http://${EDGE_IN_GUEST}/boot.ipxe`;
/** The roots published side by side, in menu (name) order. */
export const NETBOOT_NAMES = ["debian-a", "debian-b"];
/** The kernel command line published with each root; the edge appends `edgeboot.*`. */
export const NETBOOT_CMDLINE = "console=ttyS0 net.ifnames=0 panic=-1";
/** The host tools the whole chain needs (requireTools names them with their apt-get line). */
export const NETBOOT_TOOLS = [
  ...["qemu-system-x86_64", "socat", "busybox", "nbd-client", "cpio", "zstd"],
  ...["mmdebstrap", "mke2fs", "debugfs", "depmod", "tar", "apt-get", "dpkg-deb"],
];
/**
 * The edge's REQUEST_OPERATION_BUDGET here: wrangler.toml's default, the Free plan's 50. iPXE
 * fetches each boot file in one GET (no Range) and one response spans at most 15 chunks at 50;
 * boot files are cut in 4 MiB chunks, so the 14 MiB kernel and the 36 MiB initramfs fit.
 */
export const NETBOOT_OPERATION_BUDGET = 50;
/** A bound from qemu's start to the marker generous for a loaded 2-core machine (TCG). */
export const NETBOOT_TIMEOUT_MS = 300_000;

/**
 * @typedef {object} NetbootOptions
 * @property {string} workDir scratch directory (initramfs, keys, the Worker bundle); the caller
 *   removes it
 * @property {string} [workerScript] a built Worker bundle (e.g. dist/test-worker/edge.js); default:
 *   build the CLI and the Worker into `workDir`
 * @property {string[]} [names] the roots to publish (DEBIAN_VARIANTS names, default NETBOOT_NAMES)
 * @property {string} [menuDefault] BOOT_MENU_DEFAULT (default: the first of `names`)
 * @property {number} [menuTimeoutSeconds] BOOT_MENU_TIMEOUT_SECONDS (default 3)
 * @property {string} [cmdline] the published kernel command line (default NETBOOT_CMDLINE)
 * @property {number} [operationBudget] the edge's REQUEST_OPERATION_BUDGET (default
 *   NETBOOT_OPERATION_BUDGET)
 * @property {(line: string) => void} [log] progress lines
 */

/**
 * Everything a network boot needs, running.
 * @typedef {object} Netboot
 * @property {import("../../testing/workers.mjs").LocalEdge} edge the edge on the host's loopback
 * @property {import("../../testing/http-proxy.mjs").HttpProxy} relay the counting relay in front of it (what the
 *   guest reaches by default)
 * @property {import("./kernel.mjs").Kernel} kernel
 * @property {Record<string, import("./debian.mjs").DebianImage>} images by rootfs name
 * @property {{ path: string, bytes: number }} initramfs the fetching initramfs
 * @property {string} publicKey the publisher's public key file the initramfs pins
 * @property {string} privateKey the publisher's private key file (`publish --key`)
 * @property {string} cmdline the kernel command line published with each root
 * @property {string[]} names the menu's entries, in order
 * @property {string} menuDefault the entry the menu boots when its timeout runs out
 * @property {number} menuTimeoutSeconds
 * @property {Record<string, { manifest: string, published: string }>} refs each root's signed ref
 * @property {Record<string, number>} setupMs milliseconds per step: kernel, images, initramfs,
 *   edge, publish
 * @property {(name: string, args?: string[]) => Promise<void>} republish publishes root `name`
 *   again, signed, with the same boot files and `args` added (e.g. `["--profile", FILE]`), and
 *   updates `refs`
 * @property {() => Promise<void>} close stops the relay and the edge
 */

/**
 * Builds (or takes from the cache) the kernel and the Debian roots, builds the initramfs, starts
 * the edge and its relay, and publishes every root signed with its boot files.
 * @param {NetbootOptions} options
 * @returns {Promise<Netboot>}
 */
export async function prepareNetboot(options) {
  requireTools(NETBOOT_TOOLS);
  if (!existsSync(IPXE_VIRTIO_ROM)) {
    throw new Error(
      `no iPXE ROM at ${IPXE_VIRTIO_ROM}: apt-get install -y --no-install-recommends ipxe-qemu`,
    );
  }
  const log = options.log ?? (() => {});
  const names = [...(options.names ?? NETBOOT_NAMES)].sort();
  const menuDefault = options.menuDefault ?? /** @type {string} */ (names[0]);
  const menuTimeoutSeconds = options.menuTimeoutSeconds ?? 3;
  /** @type {Record<string, number>} */
  const setupMs = {};
  let at = performance.now();
  /** @param {string} step */
  const lap = (step) => {
    setupMs[step] = Math.round(performance.now() - at);
    at = performance.now();
  };
  await mkdir(options.workDir, { recursive: true });

  const kernel = await obtainKernel({ log });
  lap("kernel");
  /** @type {Record<string, import("./debian.mjs").DebianImage>} */
  const images = {};
  for (const name of names) {
    const variant = DEBIAN_VARIANTS[name];
    if (!variant) throw new Error(`no Debian variant ${name}: use one of debian.mjs's`);
    images[name] = await buildDebianImage({ ...variant, kernel, log });
  }
  lap("images");

  const workerScript = options.workerScript ?? (await buildAll(join(options.workDir, "worker")));
  const key = join(options.workDir, "publisher.key");
  const publicKey = `${key}.pub`;
  await edgeboot(["keygen", key]);
  const initrd = join(options.workDir, "initrd.img");
  await edgeboot([
    ...["initramfs", "-o", initrd, "--modules-dir", kernel.modulesDir],
    ...["--trust", publicKey],
  ]);
  const initramfs = { path: initrd, bytes: (await stat(initrd)).size };
  log(`initramfs ${initrd} (${(initramfs.bytes / 2 ** 20).toFixed(1)} MiB), pinning ${publicKey}`);
  lap("initramfs");

  const edge = await startLocalEdge(workerScript, undefined, {
    PUBLIC_URL: `http://${EDGE_IN_GUEST}`,
    BOOT_MENU_DEFAULT: menuDefault,
    BOOT_MENU_TIMEOUT_SECONDS: String(menuTimeoutSeconds),
    REQUEST_OPERATION_BUDGET: String(options.operationBudget ?? NETBOOT_OPERATION_BUDGET),
  });
  const relay = await startProxy({ upstream: edge.url }).catch(async (error) => {
    await edge.close();
    throw error;
  });
  const close = async () => {
    await relay.close();
    await edge.close();
  };
  lap("edge");
  try {
    const cmdline = options.cmdline ?? NETBOOT_CMDLINE;
    /** @type {Record<string, { manifest: string, published: string }>} */
    const refs = {};
    /** @type {(name: string, args?: string[]) => Promise<void>} */
    const republish = async (name, args = []) => {
      const image = images[name];
      if (!image) throw new Error(`no root ${name} here: ${names.join(", ")}`);
      await edgeboot(
        [
          ...["publish", image.path, "--name", name, "--edge", edge.url, "--key", key],
          ...["--kernel", kernel.vmlinuz, "--initrd", initrd, "--cmdline", cmdline, ...args],
        ],
        { EDGEBOOT_TOKEN: edge.token },
      );
      const response = await fetch(`${edge.url}/v1/rootfs/${name}`);
      if (!response.ok)
        throw new Error(`the edge lost ${name} after publishing: ${response.status}`);
      refs[name] = await response.json();
      log(`published ${name} (manifest ${refs[name]?.manifest}) with its kernel and initramfs`);
    };
    for (const name of names) await republish(name);
    lap("publish");
    return {
      ...{ edge, relay, kernel, images, initramfs, publicKey, privateKey: key, cmdline, names },
      ...{ menuDefault, menuTimeoutSeconds, refs, setupMs, republish, close },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * @typedef {object} NetbootBootOptions
 * @property {string} [entry] the menu entry to choose by typing on the serial console; default:
 *   type nothing, the menu boots its default when its timeout runs out
 * @property {string[]} [disks] further raw disks, e.g. a cache disk from makeCacheDisk
 * @property {number} [edgePort] the host loopback port the guest's 10.0.2.100:80 reaches (default:
 *   the relay; e.g. a delaying proxy in front of `netboot.relay.url`)
 * @property {number} [timeoutMs] from qemu's start to the marker (default NETBOOT_TIMEOUT_MS)
 * @property {number} [cpus] default 2
 * @property {number} [memoryMiB] default 1024
 * @property {(line: string, ms: number) => void} [onLine] each console line as it comes
 */

/**
 * Seconds from qemu's start to each step of a network boot (undefined: not seen).
 * @typedef {object} NetbootSteps
 * @property {number | undefined} menu   /boot.ipxe fetched by iPXE
 * @property {number | undefined} script the rootfs's boot script fetched (the entry chosen)
 * @property {number | undefined} kernel the kernel and the initramfs fetched, the kernel started
 * @property {number | undefined} init   the kernel runs /init
 * @property {number | undefined} network /init's DHCP done
 * @property {number | undefined} fetcher the fetcher listening inside the guest
 * @property {number | undefined} root  the root mounted under its overlay, switching root
 * @property {number} marker the root's marker, printed once systemd reached multi-user.target (the
 *   console may not show systemd's own "Reached target" line: the serial getty takes it over)
 */

/**
 * @typedef {import("./qemu.mjs").BootResult & {
 *   name: string,
 *   steps: NetbootSteps,
 *   uptime: number,
 *   failedUnits: number,
 *   requests: import("../../testing/http-proxy.mjs").ProxiedRequest[],
 *   chunkRequests: number,
 * }} NetbootResult the boot, with the root's own uptime and failed units from its marker line,
 *   and the requests the relay saw from qemu's start (times relative to it)
 */

/**
 * Boots a guest from the edge URL alone and resolves once the root `entry` (or the menu's
 * default) printed its marker; rejects with a BootFailure on an initramfs failure line, iPXE's
 * failure, another root's marker, or the timeout.
 * @param {Netboot} netboot
 * @param {NetbootBootOptions} [options]
 * @returns {Promise<NetbootResult>}
 */
export async function bootFromEdge(netboot, options = {}) {
  const name = options.entry ?? netboot.menuDefault;
  if (!netboot.names.includes(name)) {
    throw new Error(`no menu entry ${name}: the menu has ${netboot.names.join(", ")}`);
  }
  const others = netboot.names.filter((other) => other !== name);
  const first = netboot.relay.requests.length;
  const started = performance.now();
  const result = await bootGuest({
    bootfile: BOOT_URL,
    network: [{ guest: `${EDGE_IN_GUEST}:80`, hostPort: options.edgePort ?? netboot.relay.port }],
    keys: options.entry ? [{ after: "iPXE shell", send: menuKeys(netboot, name) }] : [],
    disks: options.disks,
    marker: debianMarker(name),
    failures: [
      INITRAMFS_FAILURE,
      ...others.map(debianMarker),
      /edgeboot: could not (boot|load)/,
      /No bootable device/,
    ],
    timeoutMs: options.timeoutMs ?? NETBOOT_TIMEOUT_MS,
    memoryMiB: options.memoryMiB ?? 1024,
    cpus: options.cpus ?? 2,
    onLine: options.onLine,
  });
  const requests = netboot.relay.requests.slice(first).map((r) => ({
    ...r,
    startMs: r.startMs - started,
    endMs: r.endMs - started,
  }));
  const markerLine = result.lines.find((l) => l.text.includes(debianMarker(name)))?.text ?? "";
  const marker = / uptime=([\d.]+) failed-units=(\d+)/.exec(markerLine);
  return {
    ...result,
    name,
    steps: netbootSteps(result, requests, name),
    uptime: Number(marker?.[1] ?? Number.NaN),
    failedUnits: Number(marker?.[2] ?? Number.NaN),
    requests,
    chunkRequests: requests.filter((r) => r.path.startsWith("/v1/chunks/")).length,
  };
}

/**
 * The keys that move iPXE's menu from its default to `name` and pick it: arrow keys, then Enter.
 * @param {Netboot} netboot
 * @param {string} name
 */
export function menuKeys(netboot, name) {
  const moves = netboot.names.indexOf(name) - netboot.names.indexOf(netboot.menuDefault);
  return `${(moves > 0 ? "\x1b[B" : "\x1b[A").repeat(Math.abs(moves))}\r`;
}

/**
 * @param {import("./qemu.mjs").BootResult} result
 * @param {import("../../testing/http-proxy.mjs").ProxiedRequest[]} requests times relative to qemu's start
 * @param {string} name
 * @returns {NetbootSteps}
 */
function netbootSteps(result, requests, name) {
  /** @param {string | RegExp} pattern */
  const seen = (pattern) => {
    const line = result.lines.find((l) => {
      const text = consoleText(l.text);
      return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
    });
    return line && line.ms / 1000;
  };
  /** @param {(path: string) => boolean} test */
  const fetched = (test) => {
    const request = requests.find((r) => test(r.path));
    return request && Number.isFinite(request.endMs) ? request.endMs / 1000 : undefined;
  };
  return {
    menu: fetched((path) => path === "/boot.ipxe"),
    script: fetched((path) => path === `/v1/rootfs/${name}/boot.ipxe`),
    kernel: seen(/Linux version \d/),
    init: seen("Run /init"),
    network: seen("edgeboot initramfs: network up"),
    fetcher: seen("edgeboot initramfs: fetcher listening"),
    root: seen("edgeboot initramfs: root mounted"),
    marker: result.markerMs / 1000,
  };
}

/**
 * The steps as one line for a log, e.g. `menu 4.1, script 7.9, kernel 8.6, … marker 52.3 s`.
 * @param {NetbootSteps} steps
 */
export function formatSteps(steps) {
  return `${Object.entries(steps)
    .map(([step, s]) => `${step} ${s === undefined ? "-" : s.toFixed(1)}`)
    .join(", ")} s`;
}

/**
 * Makes an empty ext4 disk image labelled `edgeboot-cache` at `path`: the initramfs keeps its
 * chunk cache there, across boots.
 * @param {string} path
 * @param {number} [mib] size in MiB (default 256)
 */
export async function makeCacheDisk(path, mib = 256) {
  const { mke2fs } = requireTools(["mke2fs"]);
  await run(mke2fs, ["-q", "-F", "-t", "ext4", "-L", "edgeboot-cache", path, `${mib}M`]);
  return path;
}
