// Boots a guest under qemu (software emulation) with an NBD export as its read-only virtio disk, and
// decides by what the guest prints on its serial console: qemu exits 0 even after a kernel panic.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { requireTools } from "./tools.mjs";

/**
 * Debian's iPXE boot ROM for qemu's virtio-net NIC (package ipxe-qemu), BIOS and EFI in one: qemu's
 * default `romfile` for virtio-net-pci. Left as the default: the same file named explicitly is
 * not run by SeaBIOS (qemu adapts only its default ROM's PCI ids; seen with qemu 7.2).
 */
export const IPXE_VIRTIO_ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";

/**
 * @typedef {object} BootOptions
 * @property {string} [kernel]   path of the vmlinuz (required unless `bootfile`)
 * @property {string} [initrd]   path of the initramfs (required unless `bootfile`)
 * @property {string} [bootfile] network boot instead of `-kernel`: the NIC's iPXE ROM (Debian's
 *   ipxe-qemu) does DHCP and fetches this URL (an iPXE script, e.g. `http://10.0.2.100/boot.ipxe`,
 *   reached through a `network` forward); needs `network`, excludes `kernel` and `nbd` (`disks`
 *   are attached as data disks)
 * @property {ConsoleKeys[]} [keys] keystrokes typed on the serial console once text appears
 * @property {{ host: string, port: number, exportName: string }} [nbd] the root disk's NBD export,
 *   attached by qemu as /dev/vda (root=/dev/vda on the command line)
 * @property {GuestForward[]} [network] a virtio NIC on a restricted user network (DHCP, no way
 *   out) where each forward's guest address reaches a loopback port of the host, through socat
 * @property {string[]} [disks] raw images attached as further virtio disks, read-write
 * @property {string} marker     the console line (substring) that means the guest booted
 * @property {(string | RegExp)[]} [failures] console lines that mean it will not (checked first)
 * @property {number} [timeoutMs] bound from qemu's start to the marker (default 60 s)
 * @property {number} [memoryMiB] guest memory (default 256)
 * @property {number} [cpus]     virtual CPUs (default 1)
 * @property {string} [append]   extra kernel command line
 * @property {(line: string, ms: number) => void} [onLine] each console line as it comes
 * @property {number} [exitGraceMs] how long qemu may run on after the marker (default 5 s)
 */

/**
 * Keys written to qemu's stdin (the serial console) once `after` is on the console, matched
 * against the text with ANSI escape sequences and backspaced characters removed (iPXE's menu
 * draws every character with them). On SeaBIOS's serial console (`-machine graphics=off`) iPXE's
 * `choose` takes arrow keys as ANSI sequences (down `\x1b[B`, up `\x1b[A`), Enter as `\r`, and an
 * item's `--key` shortcut; any key stops its timeout.
 * @typedef {object} ConsoleKeys
 * @property {string} after the console text to wait for, e.g. the last item of a menu
 * @property {string} send  what to type, e.g. `"\x1b[B\r"` for the next item
 */

/**
 * A guest address whose TCP connections go to a port on the host's loopback.
 * @typedef {object} GuestForward
 * @property {string} guest    guest-side IP address and port, e.g. `10.0.2.100:80`
 * @property {number} hostPort the port on 127.0.0.1 it reaches
 */

/**
 * @typedef {object} BootResult
 * @property {number} markerMs milliseconds from qemu's start to the marker
 * @property {number} exitMs   milliseconds from qemu's start to its exit (or to its kill)
 * @property {{ ms: number, text: string }[]} lines every console line (and qemu's own stderr)
 * @property {string} log      the lines joined
 * @property {string[]} args   qemu's arguments
 */

/** A boot that failed: its message ends with the tail of the console. */
export class BootFailure extends Error {
  /**
   * @param {string} message
   * @param {{ ms: number, text: string }[]} lines
   */
  constructor(message, lines) {
    const tail = lines
      .slice(-40)
      .map((l) => `  ${l.text}`)
      .join("\n");
    super(`${message}\nlast console lines:\n${tail}`);
    this.name = "BootFailure";
    this.lines = lines;
  }
}

/** Lines that mean the guest is not going to boot, whatever the caller asked for (qemu's own
 * errors, such as "Connection refused" from the NBD server, start with its name). */
const ALWAYS_FATAL = [/Kernel panic/, /^qemu-system-x86_64: (?!warning)/];

/** How long qemu gets to power off on its own after the marker before it is killed. */
const EXIT_GRACE_MS = 5000;

/**
 * qemu's arguments: TCG (the nested KVM here hangs a stock guest), serial console on stdout, no
 * reboot (a poweroff or panic ends qemu), the NBD export as a read-only raw virtio disk. No NIC
 * unless `network` asks for one, and then without its boot ROM (0.5 s) on a `restrict=on` user
 * network whose forwards run `socat` to the host's loopback: never the chardev form of guestfwd,
 * which shares one connection among all of the guest's.
 * Network boot (`bootfile`): no -kernel, no root disk (data `disks` only); `-boot n` from Debian's iPXE ROM on the NIC,
 * with SeaBIOS's console on the serial port (`-machine graphics=off`), which iPXE's BIOS console
 * then uses too: Debian's ROM writes only to the BIOS console, and without a display SeaBIOS
 * runs the NIC's ROM only in this mode (seen with qemu 7.2).
 * @param {BootOptions} options
 * @returns {string[]}
 */
export function qemuArgs(options) {
  if (options.bootfile) return networkBootArgs(options, options.bootfile);
  if (!options.kernel || !options.initrd)
    throw new Error("bootGuest: kernel and initrd, or bootfile");
  const append = ["console=ttyS0", "panic=-1", options.append ?? ""];
  const devices = [];
  if (options.nbd) {
    const { host, port, exportName } = options.nbd;
    append.unshift("root=/dev/vda", "rootfstype=ext4", "ro");
    devices.push(
      "-drive",
      `file=nbd://${host}:${port}/${exportName},format=raw,if=virtio,readonly=on`,
    );
  }
  for (const disk of options.disks ?? [])
    devices.push("-drive", `file=${disk},format=raw,if=virtio`);
  if (options.network) devices.push(...nicArgs(options.network, ""));
  else devices.push("-nic", "none");
  return [
    ...commonArgs(options),
    ...["-kernel", options.kernel, "-initrd", options.initrd],
    ...["-append", append.filter(Boolean).join(" ")],
    ...devices,
  ];
}

/**
 * @param {BootOptions} options
 * @param {string} bootfile
 * @returns {string[]}
 */
function networkBootArgs(options, bootfile) {
  if (options.kernel || options.nbd) {
    throw new Error("bootGuest: a network boot (bootfile) takes no kernel or nbd");
  }
  if (!options.network?.length) throw new Error("bootGuest: bootfile needs a network forward");
  const nic = nicArgs(options.network, undefined, `,bootfile=${bootfile}`);
  // Further disks (such as a chunk cache labelled edgeboot-cache) are data, never booted: -boot n.
  const disks = (options.disks ?? []).flatMap((disk) => [
    "-drive",
    `file=${disk},format=raw,if=virtio`,
  ]);
  return [...commonArgs(options), "-machine", "graphics=off", "-boot", "n", ...nic, ...disks];
}

/**
 * @param {BootOptions} options
 * @returns {string[]}
 */
function commonArgs(options) {
  return [
    ...["-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none"],
    ...["-m", String(options.memoryMiB ?? 256), "-smp", String(options.cpus ?? 1)],
    ...["-no-reboot", "-serial", "stdio", "-monitor", "none"],
  ];
}

/**
 * A virtio NIC on a restricted user network with `forwards`; `romfile` "" means no boot ROM,
 * undefined qemu's default (IPXE_VIRTIO_ROM).
 * @param {GuestForward[]} forwards
 * @param {string | undefined} romfile
 * @param {string} [extra] more `-netdev user` options
 * @returns {string[]}
 */
function nicArgs(forwards, romfile, extra = "") {
  const rules = forwards.map(
    (f) => `,guestfwd=tcp:${f.guest}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`,
  );
  return [
    ...["-netdev", `user,id=n0,restrict=on${extra}${rules.join("")}`],
    ...["-device", `virtio-net-pci,netdev=n0${romfile === undefined ? "" : `,romfile=${romfile}`}`],
  ];
}

/**
 * Boots the guest and resolves once `marker` is on its console and qemu is gone; rejects with a
 * BootFailure (console tail included) on a failure line, a timeout, or an exit without the marker.
 * qemu is always killed before this settles.
 * @param {BootOptions} options
 * @returns {Promise<BootResult>}
 */
export function bootGuest(options) {
  const qemu = requireTools(["qemu-system-x86_64"])["qemu-system-x86_64"];
  if (options.network) requireTools(["socat"]);
  if (options.bootfile && !existsSync(IPXE_VIRTIO_ROM)) {
    throw new Error(
      `no iPXE ROM at ${IPXE_VIRTIO_ROM}: apt-get install -y --no-install-recommends ipxe-qemu`,
    );
  }
  const args = qemuArgs(options);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const failures = [...(options.failures ?? []), ...ALWAYS_FATAL];
  /** @param {string} text */
  const fatal = (text) =>
    failures.find((f) => (typeof f === "string" ? text.includes(f) : f.test(text)));
  const started = performance.now();
  const keys = [...(options.keys ?? [])];
  const child = spawn(qemu, args, { stdio: [keys.length ? "pipe" : "ignore", "pipe", "pipe"] });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  /** @type {{ ms: number, text: string }[]} */
  const lines = [];
  let markerMs = -1;
  let settled = false;

  return new Promise((resolve, reject) => {
    /** @type {NodeJS.Timeout | undefined} */
    let grace;
    /** @param {string} [error] why the boot failed; none when it succeeded */
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      const exitMs = performance.now() - started;
      const done = () => {
        process.removeListener("exit", killOnExit);
        if (error) reject(new BootFailure(error, lines));
        else resolve({ markerMs, exitMs, lines, log: lines.map((l) => l.text).join("\n"), args });
      };
      // No pid: qemu never started, and no "exit" will come.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) done();
      else {
        child.once("exit", done);
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(
      () => finish(`no "${options.marker}" within ${timeoutMs / 1000} s of qemu's start`),
      timeoutMs,
    );
    /** @param {string} text */
    const onLine = (text) => {
      const ms = performance.now() - started;
      lines.push({ ms, text });
      options.onLine?.(text, ms);
      if (markerMs >= 0 || settled) return;
      if (fatal(text)) return finish(`failed: "${text}"`);
      if (text.includes(options.marker)) {
        markerMs = ms;
        grace = setTimeout(() => finish(), options.exitGraceMs ?? EXIT_GRACE_MS);
      }
    };
    if (keys.length) typeKeys(child, keys);
    splitLines(/** @type {import("node:stream").Readable} */ (child.stdout), onLine);
    splitLines(/** @type {import("node:stream").Readable} */ (child.stderr), onLine);
    child.on("error", (error) => finish(`qemu did not start: ${error.message}`));
    // "close" comes after the last output has been read.
    child.on("close", (code, signal) =>
      finish(
        markerMs >= 0 ? undefined : `qemu exited (${signal ?? code}) before "${options.marker}"`,
      ),
    );
  });
}

/**
 * Milliseconds from qemu's start to the first console line containing `text`, if any.
 * @param {BootResult} result
 * @param {string} text
 * @returns {number | undefined}
 */
export function lineTime(result, text) {
  return result.lines.find((line) => line.text.includes(text))?.ms;
}

/**
 * Writes each of `keys` to the child's stdin once its `after` text is on the console (stdout).
 * @param {import("node:child_process").ChildProcess} child
 * @param {ConsoleKeys[]} keys in order
 */
function typeKeys(child, keys) {
  let text = "";
  child.stdin?.on("error", () => {}); // qemu gone: its exit decides the boot
  child.stdout?.on("data", (/** @type {Buffer | string} */ data) => {
    text = consoleText(text + String(data)).slice(-65536);
    while (keys[0] && text.includes(keys[0].after)) {
      child.stdin?.write(/** @type {ConsoleKeys} */ (keys.shift()).send);
      text = "";
    }
  });
}

/**
 * Console output as text: ANSI escape sequences removed, and each character a backspace erases.
 * @param {string} raw
 * @returns {string}
 */
export function consoleText(raw) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts what is removed
  let text = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  for (let before = ""; before !== text; ) {
    before = text;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a backspace and what it erases
    text = text.replace(/[^\b]\x08/g, "");
  }
  return text;
}

/**
 * Calls `onLine` with each line of `stream` (carriage returns dropped), the last one even without
 * its newline.
 * @param {import("node:stream").Readable} stream
 * @param {(line: string) => void} onLine
 */
function splitLines(stream, onLine) {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (data) => {
    pending += data;
    const parts = pending.split(/\r?\n/);
    pending = parts.pop() ?? "";
    for (const part of parts) onLine(part.replace(/\r/g, ""));
  });
  stream.on("end", () => {
    if (pending) onLine(pending.replace(/\r/g, ""));
  });
}
