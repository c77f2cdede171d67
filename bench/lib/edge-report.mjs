// The Markdown report of bench/edge.mjs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE, fsType, machineLines, REPEAT, ROOT } from "./run.mjs";

const MISS_TARGET = 0.9;
const HIT_TARGET = 1.0;

const version = (pkg) =>
  JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
const ms = (v) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (a, b) => (b ? a / b : Number.NaN);
const times = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
const perThousand = (r) => (1000 * r.serverCpu) / r.requests;
const r2Reads = (r) => (r.counts ? r.counts.r2.get + r.counts.r2.head : undefined);
const yes = (ok) => (ok ? "yes" : "NO");

export function render(run) {
  const { chunkConfigs, cold, imageConfigs, settings: s } = run;
  const by = (key) => chunkConfigs.find((c) => c.key === key);
  const bare = by("bare");
  const nginx = by("nginx");
  const rounds = bare.runs.length;
  const places = (text) =>
    text
      .replaceAll(s.scratch, "$SCRATCH")
      .replaceAll(s.runsDir, "$CACHE/edge-runs")
      .replaceAll(CACHE, "$CACHE")
      .replaceAll(run.nginx.url, "$NGINX");
  const out = [
    "# Edge benchmark: edgeboot's Worker, a bare Worker and nginx, chunk GETs and `/image` ranges",
    "",
  ];
  out.push(
    "Made by `npm run bench:edge` (bench/edge.mjs). Compare only figures of one run.",
    "",
    ...machineLines([
      run.nginx.version,
      run.wrk,
      `miniflare ${version("miniflare")} (workerd ${version("workerd")})`,
    ]),
    `- load average (1, 5, 15 min, runnable/total, last pid) before: ${s.loadBefore}; after: ${s.loadAfter}. Other work shared the machine whenever the first figure is well above 0; every ratio below is of runs made within a minute of each other.`,
    `- rounds: ${rounds} of ${REPEAT}, interleaved (each round runs every configuration once, in table order); every measured run is \`wrk -t${s.threads} -c${s.connections} -d${s.seconds}s --latency -s SCRIPT URL\` after a ${s.warmup} s warm-up run of the same script. wrk and the servers share the cores: read ratios, not absolutes. The whole benchmark took ${s.elapsed.toFixed(0)} s.`,
    `- Workers: each in a Miniflare instance of its own (one workerd process each, \`compatibilityDate: "${s.compatibilityDate}"\`), reached ${s.viaEntry ? "through Miniflare's entry worker (`mf.ready`)" : "on Miniflare's direct socket (`unsafeDirectSockets`, `mf.unsafeGetDirectURL()`): no Miniflare entry worker in front, as a deployed Worker has Cloudflare's front line in front instead (`EDGEBOOT_BENCH_EDGE_ENTRY=1` goes through it)"}. One local R2 bucket, \`r2Persist: $SCRATCH/r2\`, is shared by every Worker; each has its own \`cachePersist\`. \`$SCRATCH\` is \`${s.scratch}\` (${fsType(s.scratch)}); \`$CACHE\` is \`${CACHE}\`.`,
    "",
  );

  out.push("## Inputs and servers", "");
  const sizes = run.frameBytes;
  const total = sizes.reduce((a, b) => a + b, 0);
  out.push(
    `The first ${s.imageBytes / 2 ** 20} MiB of v1.img of bench/publish.mjs (real OS files, a sorted deterministic tar; made ${run.images.made}), nothing downloaded,`,
    "published through the edge's API, as users publish: with zstd (`bench`) into the R2 bucket every",
    "Worker below shares, and with gzip (`bench-gzip`) into a second edgeboot Worker with a bucket of",
    "its own (a chunk's id is the hash of its uncompressed bytes, so in one bucket the gzip publish",
    "would find every chunk already stored and upload nothing). Also into a directory that nginx",
    `serves (\`--out\`: the same zstd frames, byte for byte; checked), and a second image (${s.warmBytes / 2 ** 20} MiB from 128 MiB on,`,
    "`warm`) to warm fresh Workers up on without touching `bench`'s chunks:",
    "",
    "```sh",
    ...s.cuts.map(places),
    ...run.setup.commands.map(places),
    "ln -s $CACHE/edge-runs/image-64m.img $CACHE/edge-runs/www/raw/image.img",
    "```",
    "",
    `Chunk GETs cycle through the ${sizes.length} chunks of \`bench\` (fixed 256 KiB, zstd 3): frames of ${Math.min(...sizes)} bytes to ${(Math.max(...sizes) / 1024).toFixed(0)} KiB, ${(total / sizes.length / 1024).toFixed(1)} KiB on average, ${(total / 1e6).toFixed(1)} MB in all (\`$CACHE/edge-runs/wrk/chunks.txt\`, one \`/v1/chunks/<id>\` a line, handed out in order by a generated Lua script, bench/lib/wrk.mjs). Before any run, the caching Worker's answer for every chunk and every other server's for the first 32 were compared with the directory's frames, and every chunk of each image was GET once from its caching edgeboot Worker and then again until a whole pass was cache hits (last fill pass: ${run.filled.edge.cache.hit} and ${run.filled.edgeGzip.cache.hit} hits, ${run.filled.edge.r2.get + run.filled.edgeGzip.r2.get} R2 gets).`,
    "",
    "| server | what | process measured |",
    "|---|---|---|",
    "| edgeboot | `bench/lib/counting-edge.js`: src/edge's `createApp` with `r2Storage(env.CHUNKS)` and `caches.default`, each call counted (read at `/__bench/counts`), bundled by esbuild as test/cli/global-setup.ts bundles src/edge/index.ts | its workerd |",
    "| edgeboot, cache misses | the same bundle in a Miniflare with `cache: false`: `caches.default.match` always misses, `put` drains the body and stores nothing | its workerd |",
    "| edgeboot, Cache API stubbed | the same bundle with the binding `BENCH_CACHE=none`: the app gets a stub cache (match misses, put cancels the body it is given) instead of `caches.default`: edgeboot's own work on a miss | its workerd |",
    '| bare Worker | `bench/lib/bare-worker.js`: `env.CHUNKS.get("chunks/" + last path segment)`, `new Response(object.body)`; no routing, checks, headers or cache | its workerd |',
    "| floor of a miss | `bench/lib/bare-fill-worker.js`: the bare Worker plus what edgeboot's miss path asks of the Cache API (a `match` that misses, the R2 body teed, one branch `put` in the background with its Content-Length), in a Miniflare with `cache: false` like edgeboot's miss runs | its workerd |",
    "| edgeboot, gzip | the edgeboot bundle on the gzip bucket, for the `/image` runs of `bench-gzip` | its workerd |",
    "| nginx | the directory of frames (`--out`), generated config below (one worker, sendfile) | master + worker |",
    "",
    "```nginx",
    places(run.nginx.conf).trim(),
    "```",
    "",
  );

  out.push("## Chunk GETs (256 KiB chunks, zstd frames)", "");
  out.push(
    "Best = the round with the most requests/s; its latency and CPU are shown. MB/s = bytes wrk read",
    "(headers included) ÷ duration. CPU = utime+stime of the server's processes from /proc during",
    "the measured run (workerd's include its simulated R2 and Cache API, which run in the same",
    "process); cores busy = CPU ÷ duration. R2 reads and cache hits per request: edgeboot's counters",
    "over the measured run.",
    "",
    "| server | req/s | × bare | × nginx | MB/s | p50 ms | p99 ms | CPU s / 1000 req | cores busy | wrk CPU s / 1000 req | req/s, each round | × bare, each round | CPU s / 1000 req, each round | R2 reads / req | cache hits / req |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|",
  );
  for (const c of chunkConfigs) {
    const b = best(c.runs);
    const reads = r2Reads(b);
    out.push(
      `| ${c.label} | ${b.rps.toFixed(0)} | ${times(ratio(b.rps, best(bare.runs).rps))} | ${times(ratio(b.rps, best(nginx.runs).rps))} | ${b.mbps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p99)} | ${perThousand(b).toFixed(3)} | ${(b.serverCpu / b.seconds).toFixed(2)} | ${((1000 * b.wrkCpu) / b.requests).toFixed(3)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(", ")} | ${c.runs.map((r, i) => times(ratio(r.rps, bare.runs[i].rps))).join(", ")} | ${c.runs.map((r) => perThousand(r).toFixed(3)).join(", ")} | ${reads === undefined ? "–" : (reads / b.requests).toFixed(3)} | ${b.counts ? (b.counts.cache.hit / b.requests).toFixed(3) : "–"} |`,
    );
  }
  out.push("");
  if (cold.runs.length > 0) {
    out.push(
      "Cache misses through a Cache API that stores them (the real miss path): per round, a fresh",
      "edgeboot Worker with an empty cache, warmed on the `warm` image's chunks (one pass of misses,",
      `one of hits), then each of the ${sizes.length} chunks of \`bench\` GET once, ${s.connections} at a time over keep-alive`,
      "connections by a Node client (undici: wrk cannot stop after one pass), timed per request; the",
      "Worker's CPU is read once it has gone quiet (the background `cache.put`s done). The same pass,",
      "same client, against the bare Worker right after, for the ratio.",
      "",
      "| round | req/s | bare, same pass | × bare | p50 ms | p99 ms | bare p50 / p99 ms | CPU s / 1000 req | bare CPU s / 1000 req | R2 reads / req | cache puts / req | cache hits |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const [i, r] of cold.runs.entries()) {
      out.push(
        `| ${i + 1} | ${r.rps.toFixed(0)} | ${r.bare.rps.toFixed(0)} | ${times(ratio(r.rps, r.bare.rps))} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.bare.p50)} / ${ms(r.bare.p99)} | ${perThousand(r).toFixed(3)} | ${perThousand(r.bare).toFixed(3)} | ${(r2Reads(r) / r.requests).toFixed(3)} | ${(r.counts.cache.put / r.requests).toFixed(3)} | ${r.counts.cache.hit} |`,
      );
    }
    out.push("");
  }

  out.push("## Targets", "");
  const miss = by("miss");
  const hit = by("hit");
  const rowFor = (label, c, target) => {
    const bestRatio = ratio(best(c.runs).rps, best(bare.runs).rps);
    const each = c.runs.map((r, i) => ratio(r.rps, bare.runs[i].rps));
    return `| ${label} | ${yes(bestRatio >= target)} (${times(bestRatio)}) | ${yes(Math.min(...each) >= target)} (${each.map(times).join(", ")}) |`;
  };
  const hitReads = hit.runs.map((r) => r2Reads(r));
  const hitRequests = hit.runs.reduce((a, r) => a + r.requests, 0);
  const totalHitReads = hitReads.reduce((a, b) => a + b, 0);
  out.push(
    "| target | best against best | every round (same-round ratios) |",
    "|---|---|---|",
    rowFor(
      `edgeboot ≥ ${MISS_TARGET} × the bare Worker's req/s, cache misses (Cache API off)`,
      miss,
      MISS_TARGET,
    ),
    rowFor(`edgeboot ≥ ${HIT_TARGET} × the bare Worker's req/s, cache hits`, hit, HIT_TARGET),
    `| zero R2 reads on the cache-hit path (get + head, counted in the Worker) | ${yes(totalHitReads === 0)} (${totalHitReads} reads in ${hitRequests} requests) | ${yes(hitReads.every((n) => n === 0))} (${hitReads.join(", ")} reads; ${hit.runs.map((r) => r.requests).join(", ")} requests) |`,
  );
  out.push("");
  const context = (label, c, peer) => {
    const each = c.runs.map((r, i) => ratio(r.rps, peer.runs[i].rps));
    return `| ${label} | ${times(ratio(best(c.runs).rps, best(peer.runs).rps))} | ${each.map(times).join(", ")} |`;
  };
  out.push(
    "Context, not targets (what the misses are measured against):",
    "",
    "| ratio of req/s | best against best | every round |",
    "|---|---|---|",
    context(
      "edgeboot misses (Cache API off) ÷ floor of a miss (bare Worker + the same Cache API work)",
      miss,
      by("bare-fill"),
    ),
    context("floor of a miss ÷ bare Worker", by("bare-fill"), bare),
    `| edgeboot hits' CPU per request ÷ the bare Worker's (lower is cheaper) | ${times(ratio(perThousand(best(hit.runs)), perThousand(best(bare.runs))))} | ${hit.runs.map((r, i) => times(ratio(perThousand(r), perThousand(bare.runs[i])))).join(", ")} |`,
    context(
      "edgeboot misses with the Cache API stubbed ÷ bare Worker (edgeboot's own work)",
      by("stub"),
      bare,
    ),
  );
  if (cold.runs.length > 0) {
    const each = cold.runs.map((r) => ratio(r.rps, r.bare.rps));
    out.push(
      `| cold-cache misses that fill the cache ÷ bare Worker (one pass each, Node client) | best round ${times(Math.max(...each))} | ${each.map(times).join(", ")} |`,
    );
  }
  out.push("");

  out.push("## `/image` ranges against nginx serving the raw image", "");
  out.push(
    `${s.rangesPerSize} Range GETs per size at offsets drawn uniformly over the image, 4 KiB aligned (mulberry32, seed`,
    "0x5eed; bench/lib/latency.mjs), so a 256 KiB range usually spans 2 chunks and a 2 MiB range 9;",
    "the same offsets for every server. edgeboot: `GET /v1/rootfs/<name>/image` (the name resolves",
    "to the manifest on each request), chunks from the Cache API (filled before the runs), each",
    "decompressed and checked against its id before its bytes go out; nginx: the raw 64 MiB file.",
    "Every server's answers to a few ranges of each size were compared with the image's bytes",
    "(206, same bytes) before the runs. CPU ms / request: the server's CPU over the measured run",
    "÷ the requests completed in it (workerd's includes its simulated Cache API and R2; with few",
    `requests a run, as for 2 MiB ranges, an upper bound: up to ${s.connections} requests still in flight at the end used CPU`,
    "too). MB/s per busy core: range bytes sent ÷ the server's CPU seconds.",
    "",
    "| range | server | req/s | × nginx | MB/s | p50 ms | p99 ms | CPU ms / request | MB/s per busy core | req/s, each round | × nginx, each round | CPU ms / request, each round | R2 reads / req (refs, chunks) | cache hits / req |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|",
  );
  for (const c of imageConfigs) {
    const peer = imageConfigs.find((k) => k.size === c.size && k.kind === "nginx");
    const b = best(c.runs);
    const cpuMs = (1000 * b.serverCpu) / b.requests;
    const label = c.kind === "nginx" ? "nginx, raw image" : `edgeboot, ${c.kind} chunks`;
    const reads = r2Reads(b);
    out.push(
      `| ${c.size / 1024} KiB | ${label} | ${b.rps.toFixed(1)} | ${times(ratio(b.rps, best(peer.runs).rps))} | ${b.mbps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p99)} | ${ms(cpuMs)} | ${((b.requests * c.size) / 1e6 / b.serverCpu).toFixed(0)} | ${c.runs.map((r) => r.rps.toFixed(1)).join(", ")} | ${c.runs.map((r, i) => times(ratio(r.rps, peer.runs[i].rps))).join(", ")} | ${c.runs.map((r) => ms((1000 * r.serverCpu) / r.requests)).join(", ")} | ${reads === undefined ? "–" : `${(reads / b.requests).toFixed(2)} (${(b.counts.r2Gets.refs / b.requests).toFixed(2)}, ${(b.counts.r2Gets.chunks / b.requests).toFixed(2)})`} | ${b.counts ? (b.counts.cache.hit / b.requests).toFixed(2) : "–"} |`,
    );
  }
  out.push("");

  out.push("## Observations (computed)", "");
  const cpu = (c) => perThousand(best(c.runs));
  out.push(
    `- CPU per request (best runs): nginx ${cpu(nginx).toFixed(3)} ms, bare Worker ${cpu(bare).toFixed(3)} ms (${times(ratio(cpu(bare), cpu(nginx)))} nginx's), edgeboot on hits ${cpu(hit).toFixed(3)} ms (${times(ratio(cpu(hit), cpu(bare)))} bare's), on misses ${cpu(miss).toFixed(3)} ms (${times(ratio(cpu(miss), cpu(bare)))} bare's: ${(cpu(miss) - cpu(bare)).toFixed(3)} ms more per request).`,
  );
  const fillFloor = by("bare-fill");
  const stub = by("stub");
  out.push(
    `- Of the ${(cpu(miss) - cpu(bare)).toFixed(3)} ms a miss costs more than the bare Worker, the Cache API work alone (floor of a miss − bare) is ${(cpu(fillFloor) - cpu(bare)).toFixed(3)} ms; edgeboot's own work with the Cache API stubbed (stub − bare) is ${(cpu(stub) - cpu(bare)).toFixed(3)} ms.`,
  );
  const busy = (c) => best(c.runs).serverCpu / best(c.runs).seconds;
  out.push(
    `- Server cores busy: nginx ${busy(nginx).toFixed(2)}, bare ${busy(bare).toFixed(2)}, edgeboot hits ${busy(hit).toFixed(2)}, misses ${busy(miss).toFixed(2)} (workerd serves requests on one thread; its simulated R2 and Cache API share it).`,
  );
  if (cold.runs.length > 0) {
    const c = cold.runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    out.push(
      `- A miss that also stores the chunk in the (simulated) cache costs ${perThousand(c).toFixed(3)} ms of workerd CPU per request (best cold round), ${times(ratio(perThousand(c), perThousand(c.bare)))} the bare Worker's in the same pass.`,
    );
  }
  for (const size of [...new Set(imageConfigs.map((c) => c.size))]) {
    const parts = imageConfigs
      .filter((c) => c.size === size && c.kind !== "nginx")
      .map((c) => {
        const b = best(c.runs);
        return `${c.kind} ${ms((1000 * b.serverCpu) / b.requests)} ms (${((b.requests * size) / 1e6 / b.serverCpu).toFixed(0)} MB/s of image per busy core)`;
      });
    out.push(
      `- \`/image\`, ${size / 1024} KiB ranges, workerd CPU per request: ${parts.join(", ")}.`,
    );
  }
  out.push("");
  return `${out.join("\n")}\n`;
}
