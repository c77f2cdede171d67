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
// Environment: EDGEBOOT_BENCH_REPEAT (rounds; default 3), EDGEBOOT_BENCH_EDGE_SECONDS (seconds
// per measured wrk run; default 3, after a 1 s warm-up run), EDGEBOOT_BENCH_EDGE_CONNECTIONS
// (default 8; one wrk thread), EDGEBOOT_BENCH_BUDGET_S (no new round after this many seconds;
// default 140), EDGEBOOT_BENCH_SCRATCH (R2 and cache persistence; default
// /dev/shm/edgeboot-bench-edge), EDGEBOOT_BENCH_EDGE_ENTRY=1, EDGEBOOT_BENCH_CACHE,
// EDGEBOOT_BENCH_NO_BUILD=1.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Miniflare } from "miniflare";
import { Agent, request } from "undici";
import { bundleWorker as bundle, WORKER_MODULE_RULES } from "../scripts/worker-bundle.mjs";
import { render } from "./lib/edge-report.mjs";
import { makeImages } from "./lib/images.mjs";
import { randomOffsets, stats } from "./lib/latency.mjs";
import { nginxVersion, startNginx } from "./lib/nginx.mjs";
import {
  bash,
  buildCli,
  CACHE,
  elapsed,
  ensureTool,
  log,
  notesMarker,
  REPEAT,
  ROOT,
  run,
  shell,
  writeResults,
} from "./lib/run.mjs";
import { refChunks } from "./lib/stores.mjs";
import { cpuSeconds, quiet, runWrk, wrkScript, wrkVersion } from "./lib/wrk.mjs";

const RUNS = join(CACHE, "edge-runs");
const WWW = join(RUNS, "www");
const RESULTS = join(ROOT, "bench", "results", "edge.md");
const SCRATCH =
  process.env.EDGEBOOT_BENCH_SCRATCH ??
  (existsSync("/dev/shm") ? "/dev/shm/edgeboot-bench-edge" : join(RUNS, "scratch"));
const SECONDS = Math.max(1, Number(process.env.EDGEBOOT_BENCH_EDGE_SECONDS ?? 3));
const WARMUP_SECONDS = 1;
const CONNECTIONS = Math.max(1, Number(process.env.EDGEBOOT_BENCH_EDGE_CONNECTIONS ?? 8));
const THREADS = 1;
const BUDGET_S = Number(process.env.EDGEBOOT_BENCH_BUDGET_S ?? 140);
const VIA_ENTRY = process.env.EDGEBOOT_BENCH_EDGE_ENTRY === "1";
const IMAGE_BYTES = 64 * 1024 * 1024;
/** A second, small image (16 MiB from further into v1.img) to warm up fresh Workers on. */
const WARM_OFFSET = 128 * 1024 * 1024;
const WARM_BYTES = 16 * 1024 * 1024;
const RANGE_SIZES = [256 * 1024, 2 * 1024 * 1024];
const RANGES_PER_SIZE = 256;
const TOKEN = "edgeboot-bench-token";
const COMPATIBILITY_DATE = "2026-04-26";

/**
 * The Workers this benchmark started, and its nginx: none may outlive it. Miniflare kills its
 * workerd processes itself on exit, SIGINT and SIGTERM (and exits the process on the signals), so
 * nginx's master is also signalled synchronously on every way out.
 */
const running = new Set();
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

/** PIDs of the workerd processes that are children of this process. */
function workerdChildren() {
  const out = spawnSync("pgrep", ["-P", String(process.pid), "workerd"]).stdout.toString();
  return new Set(out.split("\n").filter(Boolean).map(Number));
}

/**
 * Starts a Worker in a Miniflare of its own (its own workerd process) on local R2 bucket `r2`.
 * `cache: false` turns Miniflare's Cache API into a no-op (every match misses, put drains the
 * body and stores nothing); `bindings` are added to PUBLISH_TOKEN.
 */
async function startWorker(key, script, { cache = true, r2 = "r2", bindings = {} } = {}) {
  const before = workerdChildren();
  const options = {
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    modulesRules: WORKER_MODULE_RULES,
    compatibilityDate: COMPATIBILITY_DATE,
    r2Buckets: ["CHUNKS"],
    r2Persist: join(SCRATCH, r2),
    cache,
    cachePersist: join(SCRATCH, `cache-${key}`),
    bindings: { PUBLISH_TOKEN: TOKEN, ...bindings },
    host: "127.0.0.1",
    port: 0,
  };
  if (!VIA_ENTRY) options.unsafeDirectSockets = [{ host: "127.0.0.1", port: 0 }];
  const mf = new Miniflare(options);
  const worker = { key, mf, stop: () => mf.dispose() };
  running.add(worker);
  const entry = (await mf.ready).toString().replace(/\/$/, "");
  const direct = VIA_ENTRY ? entry : (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, "");
  const pids = [...workerdChildren()].filter((pid) => !before.has(pid));
  if (pids.length !== 1) throw new Error(`expected one new workerd for ${key}, found ${pids}`);
  return Object.assign(worker, { entry, url: direct, pids });
}

async function stopWorker(worker) {
  running.delete(worker);
  await worker.stop();
}

/** The counts of bench/lib/counting-edge.js; `reset` zeroes them after reading. */
async function counts(worker, reset = true) {
  const response = await fetch(`${worker.url}/__bench/counts${reset ? "?reset=1" : ""}`);
  return response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getBytes(url, headers = {}) {
  const response = await fetch(url, { headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes };
}

/** Bundles the counting edge Worker as test/cli/global-setup.ts bundles src/edge/index.ts. */
async function bundleWorker() {
  const outdir = join(RUNS, "worker");
  await bundle({ entry: join(ROOT, "bench", "lib", "counting-edge.js"), outdir });
  return join(outdir, "edge.js");
}

/** Publishes the images into the edges (through their API) and into WWW for nginx. */
async function publish(edge, edgeGzip, image, warm) {
  const commands = [];
  const timings = {};
  const publishTo = async (worker, img, name, extra, what) => {
    const argv = ["node", "bin/edgeboot.js", "publish", img, "--name", name, "--edge"];
    const r = await run([...argv, worker.entry, ...extra], { env: { EDGEBOOT_TOKEN: TOKEN } });
    commands.push(`EDGEBOOT_TOKEN=… ${shell(argv)} $${what} ${shell(extra)}`.trim());
    timings[`${name}${what === "EDGE_GZIP" ? " (gzip edge)" : ""}`] = r.seconds;
    log(`published ${name} into ${worker.key} in ${r.seconds.toFixed(1)} s`);
  };
  await publishTo(edge, image, "bench", [], "EDGE");
  await publishTo(edge, warm, "warm", [], "EDGE");
  await publishTo(edgeGzip, image, "bench-gzip", ["--codec", "gzip"], "EDGE_GZIP");
  const argv = ["node", "bin/edgeboot.js", "publish", image, "--name", "bench", "--out", WWW];
  await run(argv);
  commands.push(shell(argv));
  mkdirSync(join(WWW, "raw"), { recursive: true });
  symlinkSync(image, join(WWW, "raw", "image.img"));
  return { commands, timings };
}

/** The manifest id and chunk ids (image order) of rootfs `name` on an edge. */
async function edgeChunks(edge, name) {
  const ref = JSON.parse((await getBytes(`${edge.url}/v1/rootfs/${name}`)).bytes.toString());
  const manifestUrl = `${edge.url}/v1/manifests/${ref.manifest}`;
  const manifest = JSON.parse((await getBytes(manifestUrl)).bytes.toString());
  return { manifest: ref.manifest, ids: manifest.chunks, codec: manifest.codec };
}

/** GETs each chunk once from `worker`; then again until a whole pass is cache hits. */
async function fill(worker, ids) {
  for (const id of ids) await getBytes(`${worker.url}/v1/chunks/${id}`);
  let last;
  for (let attempt = 0; attempt < 20; attempt++) {
    await sleep(250); // the cache is filled in the background (waitUntil)
    await counts(worker);
    for (const id of ids) await getBytes(`${worker.url}/v1/chunks/${id}`);
    last = await counts(worker);
    if (last.cache.hit === ids.length && last.r2.get === 0) return last;
  }
  throw new Error(`${worker.key}: the cache did not fill: ${JSON.stringify(last)}`);
}

/**
 * Checks chunk bytes against the directory's frames: every chunk from the caching edge (which
 * fills its cache), the first 32 from each other server of the zstd bucket.
 */
async function checkChunks(servers, ids) {
  const frameBytes = [];
  for (const [index, id] of ids.entries()) {
    const expected = readFileSync(join(WWW, "v1", "chunks", id));
    frameBytes.push(expected.length);
    for (const server of Object.values(servers)) {
      if (server.key === "edge-gzip" || (index >= 32 && server.key !== "edge")) continue;
      const got = await getBytes(`${server.url}/v1/chunks/${id}`);
      if (got.status !== 200 || !got.bytes.equals(expected)) {
        throw new Error(`${server.key}: chunk ${id} differs from the directory's frame`);
      }
    }
  }
  return frameBytes;
}

/** Range GETs of both images from the edges and of the raw image from nginx, checked. */
async function checkRanges(imageConfigs, image) {
  const raw = readFileSync(image);
  for (const c of imageConfigs) {
    const offsets = randomOffsets(3, IMAGE_BYTES - c.size, 0xc0ffee);
    for (const offset of offsets) {
      const range = `bytes=${offset}-${offset + c.size - 1}`;
      const got = await getBytes(`${c.server.url}${c.path}`, { Range: range });
      if (got.status !== 206 || !got.bytes.equals(raw.subarray(offset, offset + c.size))) {
        throw new Error(`${c.server.key}${c.path} ${range}: ${got.status}, wrong bytes`);
      }
    }
  }
}

/** PIDs of nginx's master and workers (its pid file names the master). */
function nginxPids() {
  const master = Number(readFileSync(join(RUNS, "nginx", "nginx.pid"), "utf8").trim());
  const workers = spawnSync("pgrep", ["-P", String(master)]).stdout.toString();
  return [master, ...workers.split("\n").filter(Boolean).map(Number)];
}

/** One measured wrk run after a warm-up run; edge counts are read around the measured one. */
async function measure(c) {
  const options = { threads: THREADS, connections: CONNECTIONS, pids: c.server.pids };
  await runWrk(c.server.url, c.script, { ...options, seconds: WARMUP_SECONDS });
  if (c.counted) await counts(c.server);
  const r = await runWrk(c.server.url, c.script, { ...options, seconds: SECONDS });
  if (c.counted) r.counts = await counts(c.server);
  if (r.errors > 0) throw new Error(`${c.key}: wrk saw errors ${JSON.stringify(r.errorDetail)}`);
  return r;
}

/**
 * GETs each of `paths` once, CONNECTIONS at a time over keep-alive connections (undici), each
 * timed; the server's CPU is read once it has gone quiet (background cache puts included).
 */
async function onePass(server, paths) {
  const agent = new Agent({ connections: CONNECTIONS });
  await quiet(server.pids);
  const cpu0 = server.pids.map(cpuSeconds).reduce((a, b) => a + b, 0);
  const begin = performance.now();
  const samples = [];
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      const t = performance.now();
      const response = await request(`${server.url}${path}`, { dispatcher: agent });
      for await (const _ of response.body) {
        // read and discard
      }
      if (response.statusCode !== 200)
        throw new Error(`${server.key} ${path}: ${response.statusCode}`);
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const seconds = (performance.now() - begin) / 1000;
  await quiet(server.pids);
  const serverCpu = server.pids.map(cpuSeconds).reduce((a, b) => a + b, 0) - cpu0;
  await agent.close();
  const s = stats(samples);
  return { requests: paths.length, seconds, rps: paths.length / seconds, serverCpu, ...s };
}

/**
 * Cache misses through a Cache API that stores them: a fresh edgeboot Worker (empty cache),
 * warmed on the chunks of a second image (twice: misses, then hits), then each chunk of `bench`
 * GET once; and the same pass against the bare Worker, with the same client, for the ratio.
 */
async function coldPass(script, round, paths, warmPaths, bare) {
  const worker = await startWorker(`cold-r${round}`, script);
  try {
    await onePass(worker, warmPaths);
    await onePass(worker, warmPaths);
    await counts(worker);
    const r = await onePass(worker, paths);
    r.counts = await counts(worker);
    const peer = await onePass(bare, paths);
    return { ...r, bare: peer };
  } finally {
    await stopWorker(worker);
  }
}

async function main() {
  const notes = [ensureTool("wrk", "wrk"), ensureTool("nginx", "nginx-light")];
  if (notes.some(Boolean)) throw new Error(notes.filter(Boolean).join(" "));
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
  const script = await bundleWorker();
  log(`bundled ${relative(ROOT, script)}; starting the Workers (Miniflare) and nginx`);

  const servers = {};
  let nginx;
  let report;
  try {
    const bareScript = join(ROOT, "bench", "lib", "bare-worker.js");
    const fillScript = join(ROOT, "bench", "lib", "bare-fill-worker.js");
    servers.edge = await startWorker("edge", script);
    servers.miss = await startWorker("miss", script, { cache: false });
    servers.stub = await startWorker("stub", script, { bindings: { BENCH_CACHE: "none" } });
    servers.bare = await startWorker("bare", bareScript);
    servers.bareFill = await startWorker("bare-fill", fillScript, { cache: false });
    servers.edgeGzip = await startWorker("edge-gzip", script, { r2: "r2-gzip" });
    const setup = await publish(servers.edge, servers.edgeGzip, image, warm);
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
    const frameBytes = await checkChunks(servers, zstd.ids);
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
    const imageConfigs = [];
    for (const size of RANGE_SIZES) {
      const offsets = randomOffsets(RANGES_PER_SIZE, IMAGE_BYTES - size);
      const requests = (path) =>
        offsets.map((o) => ({ path, range: `bytes=${o}-${o + size - 1}` }));
      const name = size >= 2 ** 20 ? `${size / 2 ** 20}m` : `${size / 1024}k`;
      for (const [kind, server, path] of [
        ["nginx", servers.nginx, "/raw/image.img"],
        ["zstd", servers.edge, "/v1/rootfs/bench/image"],
        ["gzip", servers.edgeGzip, "/v1/rootfs/bench-gzip/image"],
      ]) {
        const key = `${kind}-${name}`;
        const script_ = wrkScript(dir, `image-${key}`, requests(path));
        const counted = kind !== "nginx";
        imageConfigs.push({ key, kind, size, path, server, counted, script: script_, runs: [] });
      }
    }
    await checkRanges(imageConfigs, image);
    await counts(servers.edge);
    await counts(servers.edgeGzip);

    for (let round = 1; round <= REPEAT; round++) {
      if (round > 1 && elapsed() > BUDGET_S) {
        log(`time budget spent (${BUDGET_S} s): skipping rounds ${round}-${REPEAT}`);
        break;
      }
      for (const c of chunkConfigs) {
        const r = await measure(c);
        c.runs.push(r);
        const cpu = (1000 * r.serverCpu) / r.requests;
        log(
          `r${round} chunks ${c.key}: ${r.rps.toFixed(0)} req/s, ${r.mbps.toFixed(0)} MB/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(1)} ms, ${cpu.toFixed(3)} CPU s/1000 req`,
        );
      }
      const warmPaths = warmChunks.ids.map((id) => `/v1/chunks/${id}`);
      const r = await coldPass(script, round, chunkPaths, warmPaths, servers.bare);
      cold.runs.push(r);
      log(
        `r${round} chunks cold: ${r.rps.toFixed(0)} req/s (bare, same client: ${r.bare.rps.toFixed(0)})`,
      );
      for (const c of imageConfigs) {
        const ir = await measure(c);
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
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeResults(RESULTS, report, notesMarker("bench/edge.mjs"));
  process.stdout.write(report);
  rmSync(RUNS, { recursive: true, force: true });
  rmSync(SCRATCH, { recursive: true, force: true });
  log(`wrote ${relative(ROOT, RESULTS)}; removed ${RUNS} and ${SCRATCH}`);
}

async function stopAll(nginx) {
  for (const worker of [...running]) await stopWorker(worker).catch(() => {});
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

main().catch((error) => {
  process.stderr.write(`bench/edge: ${error.stack ?? error}\n`);
  process.exitCode = 1;
});
