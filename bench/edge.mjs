#!/usr/bin/env node
// Edge benchmark: GETs of 256 KiB chunks with wrk on loopback, side by side in one run, from
// edgeboot's Worker (cache hits, and misses), a bare Worker that only returns `env.CHUNKS.get(key)`
// in the same runtime (workerd through Miniflare: the floor of the runtime), and nginx serving the
// same frames from a directory (the limit of the machine); then Range GETs of `/image` (256 KiB and
// 2 MiB, zstd and gzip chunks) against nginx serving the raw image.
//
//   npm run bench:edge
//
// Builds the CLI, cuts the first 64 MiB of the 256 MiB test image of bench/publish.mjs (made if
// missing, nothing downloaded), publishes it into local R2 buckets through the edge's API (zstd;
// gzip into a second Worker with a bucket of its own, since chunk ids do not depend on the codec)
// and into a directory for nginx, checks that every server answers the same bytes, fills the
// Workers' caches, then runs wrk against each server in interleaved rounds. Writes
// bench/results/edge.md and prints it. Not a test: it exits 0 once it has numbers, whether or not
// the targets are met.
//
// edgeboot's Worker is bench/lib/counting-edge.js: src/edge's app with counters around its R2
// and Cache API calls (read at /__bench/counts), bundled with esbuild. Workers are reached on
// Miniflare's direct socket (no Miniflare entry worker in front) unless EDGEBOOT_BENCH_EDGE_ENTRY=1.
//
// The Workers in Miniflare (publishing into them, their counts, checking their bytes, filling
// their caches), measured wrk runs and the cold-cache pass: bench/lib/edge-workers.mjs; the
// `/image` range runs: bench/lib/edge-ranges.mjs; the report: bench/lib/edge-report.mjs (its prose:
// bench/templates/edge.md).
//
// Environment: EDGEBOOT_BENCH_REPEAT (rounds; default 3), EDGEBOOT_BENCH_EDGE_SECONDS (seconds
// per measured wrk run; default 3, after a 1 s warm-up run), EDGEBOOT_BENCH_EDGE_CONNECTIONS
// (default 8; one wrk thread), EDGEBOOT_BENCH_BUDGET_S (no new round after this many seconds;
// default 140), EDGEBOOT_BENCH_SCRATCH (R2 and cache persistence; default
// /dev/shm/edgeboot-bench-edge), EDGEBOOT_BENCH_EDGE_ENTRY=1, EDGEBOOT_BENCH_CACHE,
// EDGEBOOT_BENCH_NO_BUILD=1.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { COMPATIBILITY_DATE } from "../testing/workers.mjs";
import { checkRanges, RANGES_PER_SIZE, rangeConfigs } from "./lib/edge-ranges.mjs";
import { render } from "./lib/edge-report.mjs";
import {
  bundleCountingWorker,
  checkChunks,
  coldPass,
  counts,
  edgeChunks,
  fill,
  measure,
  publishImages,
  workerPool,
} from "./lib/edge-workers.mjs";
import { makeImages } from "./lib/images.mjs";
import { nginxVersion, startNginx } from "./lib/nginx.mjs";
import { bash, buildCli, CACHE, elapsed, log, REPEAT, ROOT } from "./lib/run.mjs";
import { benchDirs, ensureTools, runScript, saveReport } from "./lib/script.mjs";
import { refChunks } from "./lib/stores.mjs";
import { wrkScript, wrkVersion } from "./lib/wrk.mjs";

const { runs: RUNS, www: WWW, scratch: SCRATCH, results: RESULTS } = benchDirs("edge");
const SECONDS = Math.max(1, Number(process.env.EDGEBOOT_BENCH_EDGE_SECONDS ?? 3));
const WARMUP_SECONDS = 1;
const CONNECTIONS = Math.max(1, Number(process.env.EDGEBOOT_BENCH_EDGE_CONNECTIONS ?? 8));
const THREADS = 1;
const LOAD = {
  threads: THREADS,
  connections: CONNECTIONS,
  seconds: SECONDS,
  warmupSeconds: WARMUP_SECONDS,
};
const BUDGET_S = Number(process.env.EDGEBOOT_BENCH_BUDGET_S ?? 140);
const VIA_ENTRY = process.env.EDGEBOOT_BENCH_EDGE_ENTRY === "1";
const IMAGE_BYTES = 64 * 1024 * 1024;
/** A second, small image (16 MiB from further into v1.img) to warm up fresh Workers on. */
const WARM_OFFSET = 128 * 1024 * 1024;
const WARM_BYTES = 16 * 1024 * 1024;

/**
 * The Workers this benchmark started, and its nginx: none may outlive it. Miniflare kills its
 * workerd processes itself on exit, SIGINT and SIGTERM (and exits the process on the signals), so
 * nginx's master is also signalled synchronously on every way out.
 */
const workers = workerPool({ scratch: SCRATCH, viaEntry: VIA_ENTRY });
let nginxRef;
let nginxMaster;
function killNginxNow() {
  if (nginxMaster === undefined) return;
  try {
    process.kill(nginxMaster, "SIGTERM");
  } catch {}
  nginxMaster = undefined;
}
process.on("exit", killNginxNow);

/** The version of an installed npm package. */
const packageVersion = (pkg) =>
  JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;

/** PIDs of nginx's master and workers (its pid file names the master). */
function nginxPids() {
  const master = Number(readFileSync(join(RUNS, "nginx", "nginx.pid"), "utf8").trim());
  const children = spawnSync("pgrep", ["-P", String(master)]).stdout.toString();
  return [master, ...children.split("\n").filter(Boolean).map(Number)];
}

async function main() {
  ensureTools([
    ["wrk", "wrk"],
    ["nginx", "nginx-light"],
  ]);
  const loadBefore = readFileSync("/proc/loadavg", "utf8").trim();
  buildCli();
  const images = makeImages();
  rmSync(RUNS, { recursive: true, force: true });
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(RUNS, { recursive: true });
  mkdirSync(SCRATCH, { recursive: true });
  const image = join(RUNS, "image-64m.img");
  const warm = join(RUNS, "warm-16m.img");
  const cuts = [
    `head -c ${IMAGE_BYTES} $CACHE/v1.img > $CACHE/edge-runs/image-64m.img`,
    `tail -c +${WARM_OFFSET + 1} $CACHE/v1.img | head -c ${WARM_BYTES} > $CACHE/edge-runs/warm-16m.img`,
  ];
  bash(cuts.join(" && ").replaceAll("$CACHE", CACHE), "cutting the images");
  const script = await bundleCountingWorker(join(RUNS, "worker"));
  log(`bundled ${relative(ROOT, script)}; starting the Workers (Miniflare) and nginx`);

  const servers = {};
  let nginx;
  let report;
  try {
    const bareScript = join(ROOT, "bench", "lib", "bare-worker.js");
    const fillScript = join(ROOT, "bench", "lib", "bare-fill-worker.js");
    servers.edge = await workers.start("edge", script);
    servers.miss = await workers.start("miss", script, { cache: false });
    servers.stub = await workers.start("stub", script, { bindings: { BENCH_CACHE: "none" } });
    servers.bare = await workers.start("bare", bareScript);
    servers.bareFill = await workers.start("bare-fill", fillScript, { cache: false });
    servers.edgeGzip = await workers.start("edge-gzip", script, { r2: "r2-gzip" });
    const setup = await publishImages({ ...servers, image, warm, www: WWW });
    nginx = await startNginx({ root: WWW, dir: join(RUNS, "nginx") });
    nginxRef = nginx;
    servers.nginx = { key: "nginx", url: nginx.url, pids: nginxPids() };
    nginxMaster = servers.nginx.pids[0];
    const zstd = await edgeChunks(servers.edge, "bench");
    const gzip = await edgeChunks(servers.edgeGzip, "bench-gzip");
    const warmChunks = await edgeChunks(servers.edge, "warm");
    const mirror = refChunks(WWW, "bench").map(([id]) => id);
    if (mirror.join() !== zstd.ids.join()) throw new Error("the edge and the mirror differ");
    log("checking that every server answers the same bytes; filling the edges' caches");
    const frameBytes = await checkChunks(servers, zstd.ids, WWW);
    const filled = { edge: await fill(servers.edge, zstd.ids) };
    filled.edgeGzip = await fill(servers.edgeGzip, gzip.ids);

    const dir = join(RUNS, "wrk");
    mkdirSync(dir, { recursive: true });
    const chunkPaths = zstd.ids.map((id) => `/v1/chunks/${id}`);
    const chunkScript = wrkScript(
      dir,
      "chunks",
      chunkPaths.map((path) => ({ path })),
    );
    const chunkConfigs = [
      ["nginx", "nginx, the same frames from a directory", servers.nginx],
      ["bare", "bare Worker: `env.CHUNKS.get(key)`, body returned", servers.bare],
      [
        "bare-fill",
        "floor of a miss: bare Worker + the miss path's Cache API work",
        servers.bareFill,
      ],
      ["miss", "edgeboot, cache misses (Miniflare's Cache API off)", servers.miss],
      ["stub", "edgeboot, cache misses, Cache API stubbed in the Worker", servers.stub],
      ["hit", "edgeboot, cache hits", servers.edge],
    ].map(([key, label, server]) => ({
      key,
      label,
      server,
      counted: ["miss", "stub", "hit"].includes(key),
      script: chunkScript,
      runs: [],
    }));
    const cold = { runs: [] };
    const imageConfigs = rangeConfigs(servers, dir, IMAGE_BYTES);
    await checkRanges(imageConfigs, image, IMAGE_BYTES);
    await counts(servers.edge);
    await counts(servers.edgeGzip);

    for (let round = 1; round <= REPEAT; round++) {
      if (round > 1 && elapsed() > BUDGET_S) {
        log(`time budget spent (${BUDGET_S} s): skipping rounds ${round}-${REPEAT}`);
        break;
      }
      for (const c of chunkConfigs) {
        const r = await measure(c, LOAD);
        c.runs.push(r);
        const cpu = (1000 * r.serverCpu) / r.requests;
        log(
          `r${round} chunks ${c.key}: ${r.rps.toFixed(0)} req/s, ${r.mbps.toFixed(0)} MB/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(1)} ms, ${cpu.toFixed(3)} CPU s/1000 req`,
        );
      }
      const warmPaths = warmChunks.ids.map((id) => `/v1/chunks/${id}`);
      const r = await coldPass({
        pool: workers,
        script,
        round,
        paths: chunkPaths,
        warmPaths,
        bare: servers.bare,
        connections: CONNECTIONS,
      });
      cold.runs.push(r);
      log(
        `r${round} chunks cold: ${r.rps.toFixed(0)} req/s (bare, same client: ${r.bare.rps.toFixed(0)})`,
      );
      for (const c of imageConfigs) {
        const ir = await measure(c, LOAD);
        c.runs.push(ir);
        const cpu = (1000 * ir.serverCpu) / ir.requests;
        log(
          `r${round} image ${c.key}: ${ir.rps.toFixed(1)} req/s, ${ir.mbps.toFixed(0)} MB/s, ${cpu.toFixed(1)} CPU ms/req`,
        );
      }
    }

    report = render({
      chunkConfigs,
      cold,
      imageConfigs,
      filled,
      frameBytes,
      setup,
      images,
      zstd,
      gzip,
      nginx: { version: nginxVersion(), conf: readFileSync(nginx.conf, "utf8"), url: nginx.url },
      wrk: wrkVersion(),
      runtime: `miniflare ${packageVersion("miniflare")} (workerd ${packageVersion("workerd")})`,
      settings: {
        seconds: SECONDS,
        warmup: WARMUP_SECONDS,
        connections: CONNECTIONS,
        threads: THREADS,
        viaEntry: VIA_ENTRY,
        imageBytes: IMAGE_BYTES,
        warmBytes: WARM_BYTES,
        rangesPerSize: RANGES_PER_SIZE,
        scratch: SCRATCH,
        runsDir: RUNS,
        cuts,
        compatibilityDate: COMPATIBILITY_DATE,
        loadBefore,
        loadAfter: readFileSync("/proc/loadavg", "utf8").trim(),
        elapsed: elapsed(),
      },
    });
  } finally {
    await stopAll(nginx);
  }
  saveReport("bench/edge.mjs", RESULTS, report);
  rmSync(RUNS, { recursive: true, force: true });
  rmSync(SCRATCH, { recursive: true, force: true });
  log(`removed ${RUNS} and ${SCRATCH}`);
}

async function stopAll(nginx) {
  await workers.stopAll();
  if (nginx) {
    const errors = await nginx.stop();
    nginxMaster = undefined;
    if (errors.trim()) log(`nginx error log:\n${errors}`);
  }
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers; removing ${SCRATCH} (in memory)`);
    killNginxNow();
    rmSync(SCRATCH, { recursive: true, force: true });
    stopAll(nginxRef).finally(() => process.exit(130));
  });
}

await runScript("bench/edge.mjs", main);
