// Boots a guest under qemu (software emulation) with an NBD export as its read-only virtio disk, and
// decides by what the guest prints on its serial console: qemu exits 0 even after a kernel panic.
import { spawn } from "node:child_process";
import { requireTools } from "./tools.mjs";

/**
 * @typedef {object} BootOptions
 * @property {string} kernel     path of the vmlinuz
 * @property {string} initrd     path of the initramfs
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
 * @param {BootOptions} options
 * @returns {string[]}
 */
export function qemuArgs(options) {
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
  if (options.network) {
    const forwards = options.network.map(
      (f) => `,guestfwd=tcp:${f.guest}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`,
    );
    devices.push("-netdev", `user,id=n0,restrict=on${forwards.join("")}`);
    devices.push("-device", "virtio-net-pci,netdev=n0,romfile=");
  } else devices.push("-nic", "none");
  return [
    ...["-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none"],
    ...["-m", String(options.memoryMiB ?? 256), "-smp", String(options.cpus ?? 1)],
    ...["-no-reboot", "-serial", "stdio"],
    ...["-monitor", "none", "-kernel", options.kernel, "-initrd", options.initrd],
    ...["-append", append.filter(Boolean).join(" ")],
    ...devices,
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
  const args = qemuArgs(options);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const failures = [...(options.failures ?? []), ...ALWAYS_FATAL];
  /** @param {string} text */
  const fatal = (text) =>
    failures.find((f) => (typeof f === "string" ? text.includes(f) : f.test(text)));
  const started = performance.now();
  const child = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
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
        grace = setTimeout(() => finish(), EXIT_GRACE_MS);
      }
    };
    splitLines(child.stdout, onLine);
    splitLines(child.stderr, onLine);
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
