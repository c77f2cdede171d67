// The Workers of bench/edge.mjs, each in a Miniflare of its own (its own workerd process, whose
// CPU is counted): starting and stopping them, publishing into them, the counts of
// bench/lib/counting-edge.js, checking their bytes and filling their caches, measured wrk runs,
// and the cold-cache pass against a fresh Worker.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { bundleWorker as bundle } from "../../scripts/worker-bundle.mjs";
import { startWorker } from "../../testing/workers.mjs";
import { stats } from "./latency.mjs";
import { log, ROOT, run, shell } from "./run.mjs";
import { cpuSeconds, quiet, runWrk } from "./wrk.mjs";

/** The PUBLISH_TOKEN of every Worker. */
export const TOKEN = "edgeboot-bench-token";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** PIDs of the workerd processes that are children of this process. */
function workerdChildren() {
  const out = spawnSync("pgrep", ["-P", String(process.pid), "workerd"]).stdout.toString();
  return new Set(out.split("\n").filter(Boolean).map(Number));
}

/**
 * The Workers started through it, which `stopAll()` stops. Each keeps its R2 buckets and cache
 * under `scratch`; it is reached on Miniflare's direct socket (no Miniflare entry worker in
 * front) unless `viaEntry`.
 */
export function workerPool({ scratch, viaEntry }) {
  const running = new Set();

  /**
   * Starts a Worker on local R2 bucket `r2`. `cache: false` turns Miniflare's Cache API into a
   * no-op (every match misses, put drains the body and stores nothing); `bindings` are added to
   * PUBLISH_TOKEN. Resolves with `{ key, mf, entry, url, pids }`.
   */
  async function start(key, script, { cache = true, r2 = "r2", bindings = {} } = {}) {
    const before = workerdChildren();
    const { url: entry, mf } = await startWorker(script, {
      r2Persist: join(scratch, r2),
      cache,
      cachePersist: join(scratch, `cache-${key}`),
      bindings: { PUBLISH_TOKEN: TOKEN, ...bindings },
      ...(viaEntry ? {} : { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }),
    });
    const worker = { key, mf, stop: () => mf.dispose() };
    running.add(worker);
    const direct = viaEntry ? entry : (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, "");
    const pids = [...workerdChildren()].filter((pid) => !before.has(pid));
    if (pids.length !== 1) throw new Error(`expected one new workerd for ${key}, found ${pids}`);
    return Object.assign(worker, { entry, url: direct, pids });
  }

  /** Stops a Worker of this pool. */
  async function stop(worker) {
    running.delete(worker);
    await worker.stop();
  }

  /** Stops every Worker still running, ignoring errors. */
  async function stopAll() {
    for (const worker of [...running]) await stop(worker).catch(() => {});
  }

  return { start, stop, stopAll };
}

/**
 * Bundles the counting edge Worker into `outdir` as test/cli/global-setup.ts bundles
 * src/edge/index.ts; resolves with the bundle's path.
 */
export async function bundleCountingWorker(outdir) {
  await bundle({ entry: join(ROOT, "bench", "lib", "counting-edge.js"), outdir });
  return join(outdir, "edge.js");
}

/** The counts of bench/lib/counting-edge.js; `reset` zeroes them after reading. */
export async function counts(worker, reset = true) {
  const response = await fetch(`${worker.url}/__bench/counts${reset ? "?reset=1" : ""}`);
  return response.json();
}

/** GETs `url`; resolves with its status, headers and body. */
export async function getBytes(url, headers = {}) {
  const response = await fetch(url, { headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes };
}

/**
 * Publishes `image` as `bench` and `warm` as `warm` into `edge`, `image` as `bench-gzip` (gzip)
 * into `edgeGzip`, all through the edge's API, and `image` as `bench` into directory `www` for
 * nginx, with the raw image at `raw/image.img`. Resolves with the commands and their seconds.
 */
export async function publishImages({ edge, edgeGzip, image, warm, www }) {
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
  const argv = ["node", "bin/edgeboot.js", "publish", image, "--name", "bench", "--out", www];
  await run(argv);
  commands.push(shell(argv));
  mkdirSync(join(www, "raw"), { recursive: true });
  symlinkSync(image, join(www, "raw", "image.img"));
  return { commands, timings };
}

/**
 * Checks chunk bytes against the directory's frames: every chunk from the caching edge (which
 * fills its cache), the first 32 from each other server of the zstd bucket; `www` is the
 * directory store nginx serves. Resolves with each frame's length.
 */
export async function checkChunks(servers, ids, www) {
  const frameBytes = [];
  for (const [index, id] of ids.entries()) {
    const expected = readFileSync(join(www, "v1", "chunks", id));
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

/** The manifest id and chunk ids (image order) of rootfs `name` on an edge. */
export async function edgeChunks(edge, name) {
  const ref = JSON.parse((await getBytes(`${edge.url}/v1/rootfs/${name}`)).bytes.toString());
  const manifestUrl = `${edge.url}/v1/manifests/${ref.manifest}`;
  const manifest = JSON.parse((await getBytes(manifestUrl)).bytes.toString());
  return { manifest: ref.manifest, ids: manifest.chunks, codec: manifest.codec };
}

/** GETs each chunk once from `worker`; then again until a whole pass is cache hits. */
export async function fill(worker, ids) {
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
 * One measured wrk run of config `c` (`key`, `server`, `script`, `counted`) after a warm-up run;
 * edge counts are read around the measured one. `load`: `threads`, `connections`, `seconds`,
 * `warmupSeconds`.
 */
export async function measure(c, { threads, connections, seconds, warmupSeconds }) {
  const options = { threads, connections, pids: c.server.pids };
  await runWrk(c.server.url, c.script, { ...options, seconds: warmupSeconds });
  if (c.counted) await counts(c.server);
  const r = await runWrk(c.server.url, c.script, { ...options, seconds });
  if (c.counted) r.counts = await counts(c.server);
  if (r.errors > 0) throw new Error(`${c.key}: wrk saw errors ${JSON.stringify(r.errorDetail)}`);
  return r;
}

/**
 * GETs each of `paths` once, `connections` at a time over keep-alive connections (undici), each
 * timed; the server's CPU is read once it has gone quiet (background cache puts included).
 */
async function onePass(server, paths, connections) {
  const agent = new Agent({ connections });
  await quiet(server.pids);
  const cpu0 = server.pids.map(cpuSeconds).reduce((a, b) => a + b, 0);
  const begin = performance.now();
  const samples = [];
  let next = 0;
  const client = async () => {
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
  await Promise.all(Array.from({ length: connections }, client));
  const seconds = (performance.now() - begin) / 1000;
  await quiet(server.pids);
  const serverCpu = server.pids.map(cpuSeconds).reduce((a, b) => a + b, 0) - cpu0;
  await agent.close();
  const s = stats(samples);
  return { requests: paths.length, seconds, rps: paths.length / seconds, serverCpu, ...s };
}

/**
 * Cache misses through a Cache API that stores them: a fresh edgeboot Worker of `pool` running
 * `script` (empty cache), warmed on `warmPaths` (twice: misses, then hits), then each of `paths`
 * GET once; and the same pass against the `bare` Worker, with the same client, for the ratio.
 */
export async function coldPass({ pool, script, round, paths, warmPaths, bare, connections }) {
  const worker = await pool.start(`cold-r${round}`, script);
  try {
    await onePass(worker, warmPaths, connections);
    await onePass(worker, warmPaths, connections);
    await counts(worker);
    const r = await onePass(worker, paths, connections);
    r.counts = await counts(worker);
    const peer = await onePass(bare, paths, connections);
    return { ...r, bare: peer };
  } finally {
    await pool.stop(worker);
  }
}
