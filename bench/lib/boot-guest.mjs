// One guest boot of bench/boot.mjs: qemu booting from `edgeboot nbd` (through the delay proxy) or
// from nbdkit, its console split into phases and the proxy's HTTP log summed up.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { cacheUsage, imageCoverage, recordedReads } from "../../scripts/boot/cli.mjs";
import { INITRAMFS_FAILURE } from "../../scripts/boot/initramfs.mjs";
import { bootGuest, lineTime } from "../../scripts/boot/qemu.mjs";
import { bootMarker, DATA_FAILURE } from "../../scripts/boot/rootfs.mjs";
import { startNbd } from "../../testing/edgeboot-nbd.mjs";
import { freePort } from "./run.mjs";

const BOOT_TIMEOUT_MS = 90_000;

/** `nbdkit -r file IMAGE` on a free loopback port; resolves once it accepts connections. */
async function startNbdkit(image) {
  const port = await freePort();
  const argv = ["nbdkit", "-r", "-f", "-i", "127.0.0.1", "-p", String(port), "file", image];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: "127.0.0.1",
    port,
    argv,
    close: async () => {
      process.removeListener("exit", kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * The console lines that split a boot into phases, in order: [key, label of the phase that starts
 * there, when it starts]. The last phase ends at the marker.
 */
export const PHASES = [
  ["start", "qemu start → kernel's first line", () => 0],
  ["kernel", "kernel → /init", (r) => lineTime(r, "Linux version")],
  ["init", "/init (modules) → root disk found", (r) => lineTime(r, "Run /init as init process")],
  ["mount", "root disk found → root mounted", (r) => diskTime(r)],
  ["exec", "root mounted → rootfs init's first line", (r) => lineTime(r, "mounted read-only")],
  ["run", "rootfs init → marker", (r) => r.rootInitMs],
];

/** When virtio_blk announced the root disk (its partition scan reads it next). */
function diskTime(result) {
  return result.lines.find((l) => /virtio_blk virtio\d+: \[vda\]/.test(l.text))?.ms;
}

/** How long at least one of `intervals` ([start, end]) was open between `from` and `to`. */
function busyWithin(intervals, from, to) {
  let busy = 0;
  let reached = from;
  for (const [start, end] of [...intervals].sort((a, b) => a[0] - b[0])) {
    const a = Math.max(start, reached);
    const b = Math.min(end, to);
    if (b > a) busy += b - a;
    reached = Math.max(reached, Math.min(end, to));
  }
  return busy;
}

/** The console timestamps of one boot, as phase durations in ms. */
function phasesOf(result, name) {
  result.rootInitMs = lineTime(result, `edgeboot rootfs ${name}:`);
  const points = [0, ...PHASES.slice(1).map(([, , at]) => at(result)), result.markerMs];
  const phases = {};
  for (const [index, [key]] of PHASES.entries()) phases[key] = points[index + 1] - points[index];
  const disk = diskTime(result);
  return { phases, diskMs: disk, rootfsMs: result.markerMs - disk, wholeMs: result.markerMs };
}

/**
 * Boots `image` once as `kind`: on a fresh cache (cold, prefetch), on the cache of this round's
 * cold boot (warm), or from nbdkit (peer). `record`: the file edgeboot nbd --record writes.
 * `ctx.work`: the directory of the caches and console logs; `ctx.nbdArgs`: added to every
 * `edgeboot nbd`.
 */
export async function bootOnce(ctx, image, kind, round, { record } = {}) {
  const { kernel, initrd, proxy, edge, work, nbdArgs } = ctx;
  const cacheDir = join(work, `r${round}-${image.name}-${kind === "warm" ? "cold" : kind}-cache`);
  if (kind !== "warm") rmSync(cacheDir, { recursive: true, force: true });
  const name = kind === "prefetch" ? `${image.name}-prefetch` : image.name;
  const server =
    kind === "peer"
      ? await startNbdkit(image.path)
      : await startNbd({ edge: proxy.url, cacheDir, record, args: nbdArgs });
  const mark = proxy.mark();
  const t0 = performance.now();
  let result;
  try {
    result = await bootGuest({
      kernel: kernel.vmlinuz,
      initrd,
      nbd: { host: server.host, port: server.port, exportName: name },
      marker: bootMarker(image.name),
      failures: [INITRAMFS_FAILURE, DATA_FAILURE],
      timeoutMs: BOOT_TIMEOUT_MS,
    });
  } finally {
    await server.close();
  }
  const http = proxy.since(mark);
  const said = kind === "peer" ? "" : server.stderr();
  const boot = { kind, round, name, args: result.args, ...phasesOf(result, image.name) };
  writeFileSync(
    join(work, `console-r${round}-${image.name}-${kind}${record ? "-record" : ""}.txt`),
    [
      ...result.lines.map((l) => [l.ms, `   ${l.text}`]),
      ...http.log.map((h) => [
        h.startMs - t0,
        `>> ${h.method} ${h.path} ${h.status} ${h.bytes} B, ${(h.endMs - h.startMs).toFixed(0)} ms${h.newConnection ? " (new connection)" : ""}`,
      ]),
    ]
      .sort((a, b) => a[0] - b[0])
      .map(([ms, text]) => `${(ms / 1000).toFixed(3).padStart(8)} ${text}`)
      .join("\n"),
  );
  if (kind === "peer") return boot;
  const chunks = http.log.filter((h) => h.path.startsWith("/v1/chunks/"));
  const at = (h) => h.startMs - t0;
  boot.http = {
    requests: http.requests,
    chunkRequests: chunks.length,
    duplicates: chunks.length - new Set(chunks.map((h) => h.path)).size,
    bytes: http.bytes,
    connections: http.connections,
    peak: http.peakInFlight,
    chunksBeforeDisk: chunks.filter((h) => at(h) < boot.diskMs).length,
    chunksDoneBeforeDisk: chunks.filter((h) => h.endMs - t0 < boot.diskMs).length,
    chunksAfterDisk: chunks.filter((h) => at(h) >= boot.diskMs).length,
    lastChunkEndMs: Math.max(0, ...chunks.map((h) => h.endMs - t0)),
    busyMs: busyWithin(
      chunks.map((h) => [at(h), h.endMs - t0]),
      boot.diskMs,
      boot.wholeMs,
    ),
    startRequests: http.log.filter((h) => at(h) < lineTime(result, "Linux version")).length,
  };
  const prefetched = /prefetched (\d+) chunks of manifest \w+ in ([\d.]+) s/.exec(said);
  if (prefetched) boot.prefetch = { chunks: Number(prefetched[1]), seconds: Number(prefetched[2]) };
  boot.usage = await cacheUsage(cacheDir);
  boot.coverage = await imageCoverage({ edge: edge.url, name, cacheDir });
  if (record) {
    const reads = (await recordedReads(record))[name];
    boot.read = (await imageCoverage({ edge: edge.url, name, cacheDir, reads })).read;
  }
  return boot;
}
