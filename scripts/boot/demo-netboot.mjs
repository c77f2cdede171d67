// The Debian part of `npm run demo:boot`: a machine boots a real Debian root from the edge URL
// alone (scripts/boot/netboot.mjs): qemu with no -kernel and no disk, iPXE from the NIC's ROM,
// /boot.ipxe from a local edge, the menu's default (debian-a) and then the other entry (debian-b,
// typed on the serial console), the fetcher inside the guest, systemd to multi-user.target.
import { join } from "node:path";
import { BOOT_URL, bootFromEdge, NETBOOT_TIMEOUT_MS, prepareNetboot } from "./netboot.mjs";
import { consoleText } from "./qemu.mjs";

/**
 * @typedef {object} NetbootDemoOptions
 * @property {string} work         scratch directory (removed by the caller)
 * @property {string} workerScript the Worker bundle (scripts/boot/edge.mjs buildAll)
 * @property {number} [timeoutMs]  per boot, from qemu's start to the marker
 * @property {boolean} [console]   print every console line (else the edgeboot lines only)
 * @property {(line: string) => void} say
 * @property {(step: () => Promise<unknown>) => void} onCleanup registers what to stop at the end
 */

/** @param {number | undefined} s seconds */
const at = (s) => (s === undefined ? "-" : s.toFixed(1));
/** @param {number | undefined} milliseconds */
const ms = (milliseconds) => at(milliseconds === undefined ? undefined : milliseconds / 1000);
/**
 * A console line as the demo prints it: as it is with --console; else iPXE's menu, drawn with
 * cursor moves on one line, as its text (the menu's title and entries, once).
 * @param {string} line
 */
const shown = (line) =>
  line.includes("\x1b[")
    ? consoleText(line)
        .replace(/\s+/g, " ")
        .replace(/ \(\d+\)/g, "")
        .replace(/ Other: .*/, "")
        .trim()
    : line;
/** @param {number} bytes */
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * Prepares the chain, boots both Debian roots by iPXE, and prints each step's time.
 * @param {NetbootDemoOptions} options
 */
export async function netbootDemo(options) {
  const { say } = options;
  say("\n== Debian from the edge URL alone: iPXE, the fetcher inside the guest ==");
  const netboot = await prepareNetboot({
    workDir: join(options.work, "netboot"),
    workerScript: options.workerScript,
    log: (line) => say(`  ${line}`),
  });
  options.onCleanup(() => netboot.close());
  const { setupMs } = netboot;
  say(
    `setup      kernel ${ms(setupMs.kernel)} s, Debian roots ${ms(setupMs.images)} s` +
      ` (cached after the first build), initramfs ${ms(setupMs.initramfs)} s` +
      ` (${mib(netboot.initramfs.bytes)}), publish ${ms(setupMs.publish)} s`,
  );
  say(
    `edge       ${netboot.edge.url} as http://10.0.2.100 in the guest (PUBLIC_URL), menu ` +
      `${netboot.names.join(", ")}, default ${netboot.menuDefault} after ${netboot.menuTimeoutSeconds} s`,
  );
  const rows = [];
  for (const entry of [undefined, ...netboot.names.filter((n) => n !== netboot.menuDefault)]) {
    const how = entry ? `${entry} chosen on the serial console` : "the menu's default";
    say(`\nboot ${how}: qemu -boot n, bootfile=${BOOT_URL}, no -kernel, no -drive`);
    const result = await bootFromEdge(netboot, {
      entry,
      timeoutMs: options.timeoutMs ?? NETBOOT_TIMEOUT_MS,
      onLine: (line, ms) => {
        if (options.console) say(`  ${(ms / 1000).toFixed(2).padStart(6)} s | ${line}`);
        else if (/edgeboot|EDGEBOOT/.test(line))
          say(`  ${(ms / 1000).toFixed(2).padStart(6)} s | ${shown(line)}`);
      },
    });
    rows.push(result);
  }
  say("\nseconds from qemu's start to:");
  say(
    "  rootfs     menu  script  kernel  /init  network  fetcher  root  marker | in guest  failed  chunks fetched",
  );
  for (const r of rows) {
    const s = r.steps;
    const chunkBytes = r.requests
      .filter((q) => q.path.startsWith("/v1/chunks/"))
      .reduce((sum, q) => sum + q.bytes, 0);
    say(
      `  ${r.name.padEnd(9)}${at(s.menu).padStart(6)}${at(s.script).padStart(8)}${at(s.kernel).padStart(8)}` +
        `${at(s.init).padStart(7)}${at(s.network).padStart(9)}${at(s.fetcher).padStart(9)}` +
        `${at(s.root).padStart(6)}${at(s.marker).padStart(8)} |${at(r.uptime).padStart(9)}` +
        `${String(r.failedUnits).padStart(8)}  ${r.chunkRequests} (${mib(chunkBytes)})`,
    );
  }
  say(
    `\nbooted ${rows.map((r) => r.name).join(" and ")} from ${BOOT_URL} alone, every chunk fetched and verified inside the guest.`,
  );
}
