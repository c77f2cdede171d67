// The Markdown report of bench/edge.mjs: tables computed here, prose in bench/templates/edge.md.
import { CACHE, fsType, machineLines, REPEAT } from "./run.mjs";
import { template } from "./template.mjs";

const prose = template("edge");

const MISS_TARGET = 0.9;
const HIT_TARGET = 1.0;

const ms = (v) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (a, b) => (b ? a / b : Number.NaN);
const times = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
const perThousand = (r) => (1000 * r.serverCpu) / r.requests;
const r2Reads = (r) => (r.counts ? r.counts.r2.get + r.counts.r2.head : undefined);
const yes = (ok) => (ok ? "yes" : "NO");

/**
 * The report of a run of bench/edge.mjs: its configurations and their runs, the cold-cache passes,
 * the inputs, and `settings`; `runtime` names the Miniflare and workerd versions.
 */
export function render(run) {
  const { chunkConfigs, cold, imageConfigs, settings: s } = run;
  const by = (key) => chunkConfigs.find((c) => c.key === key);
  const bare = by("bare");
  const nginx = by("nginx");
  const places = (text) =>
    text
      .replaceAll(s.scratch, "$SCRATCH")
      .replaceAll(s.runsDir, "$CACHE/edge-runs")
      .replaceAll(CACHE, "$CACHE")
      .replaceAll(run.nginx.url, "$NGINX");
  const out = [
    prose.section("intro", {
      machine: machineLines([run.nginx.version, run.wrk, run.runtime]).join("\n"),
      loadBefore: s.loadBefore,
      loadAfter: s.loadAfter,
      rounds: bare.runs.length,
      repeat: REPEAT,
      threads: s.threads,
      connections: s.connections,
      seconds: s.seconds,
      warmup: s.warmup,
      elapsed: s.elapsed.toFixed(0),
      compatibilityDate: s.compatibilityDate,
      reached: prose.section(s.viaEntry ? "reached-via-entry" : "reached-directly"),
      scratch: s.scratch,
      scratchFs: fsType(s.scratch),
      cache: CACHE,
    }),
    "",
  ];

  const sizes = run.frameBytes;
  const total = sizes.reduce((a, b) => a + b, 0);
  out.push(
    prose.section("inputs", {
      imageMiB: s.imageBytes / 2 ** 20,
      made: run.images.made,
      warmMiB: s.warmBytes / 2 ** 20,
      commands: [...s.cuts, ...run.setup.commands].map(places).join("\n"),
      chunks: sizes.length,
      smallest: Math.min(...sizes),
      largestKiB: (Math.max(...sizes) / 1024).toFixed(0),
      meanKiB: (total / sizes.length / 1024).toFixed(1),
      totalMB: (total / 1e6).toFixed(1),
      hits: run.filled.edge.cache.hit,
      gzipHits: run.filled.edgeGzip.cache.hit,
      r2Gets: run.filled.edge.r2.get + run.filled.edgeGzip.r2.get,
      nginxConf: places(run.nginx.conf).trim(),
    }),
    "",
  );

  const chunkRows = [
    "| server | req/s | × bare | × nginx | MB/s | p50 ms | p99 ms | CPU s / 1000 req | cores busy | wrk CPU s / 1000 req | req/s, each round | × bare, each round | CPU s / 1000 req, each round | R2 reads / req | cache hits / req |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|",
  ];
  for (const c of chunkConfigs) {
    const b = best(c.runs);
    const reads = r2Reads(b);
    chunkRows.push(
      `| ${c.label} | ${b.rps.toFixed(0)} | ${times(ratio(b.rps, best(bare.runs).rps))} | ${times(ratio(b.rps, best(nginx.runs).rps))} | ${b.mbps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p99)} | ${perThousand(b).toFixed(3)} | ${(b.serverCpu / b.seconds).toFixed(2)} | ${((1000 * b.wrkCpu) / b.requests).toFixed(3)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(", ")} | ${c.runs.map((r, i) => times(ratio(r.rps, bare.runs[i].rps))).join(", ")} | ${c.runs.map((r) => perThousand(r).toFixed(3)).join(", ")} | ${reads === undefined ? "–" : (reads / b.requests).toFixed(3)} | ${b.counts ? (b.counts.cache.hit / b.requests).toFixed(3) : "–"} |`,
    );
  }
  out.push(prose.section("chunk-gets", { table: chunkRows.join("\n") }), "");
  if (cold.runs.length > 0) {
    const coldRows = [
      "| round | req/s | bare, same pass | × bare | p50 ms | p99 ms | bare p50 / p99 ms | CPU s / 1000 req | bare CPU s / 1000 req | R2 reads / req | cache puts / req | cache hits |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const [i, r] of cold.runs.entries()) {
      coldRows.push(
        `| ${i + 1} | ${r.rps.toFixed(0)} | ${r.bare.rps.toFixed(0)} | ${times(ratio(r.rps, r.bare.rps))} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.bare.p50)} / ${ms(r.bare.p99)} | ${perThousand(r).toFixed(3)} | ${perThousand(r.bare).toFixed(3)} | ${(r2Reads(r) / r.requests).toFixed(3)} | ${(r.counts.cache.put / r.requests).toFixed(3)} | ${r.counts.cache.hit} |`,
      );
    }
    out.push(
      prose.section("cold-cache", {
        chunks: sizes.length,
        connections: s.connections,
        table: coldRows.join("\n"),
      }),
      "",
    );
  }

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
  const targetRows = [
    "| target | best against best | every round (same-round ratios) |",
    "|---|---|---|",
    rowFor(
      `edgeboot ≥ ${MISS_TARGET} × the bare Worker's req/s, cache misses (Cache API off)`,
      miss,
      MISS_TARGET,
    ),
    rowFor(`edgeboot ≥ ${HIT_TARGET} × the bare Worker's req/s, cache hits`, hit, HIT_TARGET),
    `| zero R2 reads on the cache-hit path (get + head, counted in the Worker) | ${yes(totalHitReads === 0)} (${totalHitReads} reads in ${hitRequests} requests) | ${yes(hitReads.every((n) => n === 0))} (${hitReads.join(", ")} reads; ${hit.runs.map((r) => r.requests).join(", ")} requests) |`,
  ];
  const context = (label, c, peer) => {
    const each = c.runs.map((r, i) => ratio(r.rps, peer.runs[i].rps));
    return `| ${label} | ${times(ratio(best(c.runs).rps, best(peer.runs).rps))} | ${each.map(times).join(", ")} |`;
  };
  const contextRows = [
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
  ];
  if (cold.runs.length > 0) {
    const each = cold.runs.map((r) => ratio(r.rps, r.bare.rps));
    contextRows.push(
      `| cold-cache misses that fill the cache ÷ bare Worker (one pass each, Node client) | best round ${times(Math.max(...each))} | ${each.map(times).join(", ")} |`,
    );
  }
  out.push(
    prose.section("targets", { table: targetRows.join("\n"), context: contextRows.join("\n") }),
    "",
  );

  const rangeRows = [
    "| range | server | req/s | × nginx | MB/s | p50 ms | p99 ms | CPU ms / request | MB/s per busy core | req/s, each round | × nginx, each round | CPU ms / request, each round | R2 reads / req (refs, chunks) | cache hits / req |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|",
  ];
  for (const c of imageConfigs) {
    const peer = imageConfigs.find((k) => k.size === c.size && k.kind === "nginx");
    const b = best(c.runs);
    const cpuMs = (1000 * b.serverCpu) / b.requests;
    const label = c.kind === "nginx" ? "nginx, raw image" : `edgeboot, ${c.kind} chunks`;
    const reads = r2Reads(b);
    rangeRows.push(
      `| ${c.size / 1024} KiB | ${label} | ${b.rps.toFixed(1)} | ${times(ratio(b.rps, best(peer.runs).rps))} | ${b.mbps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p99)} | ${ms(cpuMs)} | ${((b.requests * c.size) / 1e6 / b.serverCpu).toFixed(0)} | ${c.runs.map((r) => r.rps.toFixed(1)).join(", ")} | ${c.runs.map((r, i) => times(ratio(r.rps, peer.runs[i].rps))).join(", ")} | ${c.runs.map((r) => ms((1000 * r.serverCpu) / r.requests)).join(", ")} | ${reads === undefined ? "–" : `${(reads / b.requests).toFixed(2)} (${(b.counts.r2Gets.refs / b.requests).toFixed(2)}, ${(b.counts.r2Gets.chunks / b.requests).toFixed(2)})`} | ${b.counts ? (b.counts.cache.hit / b.requests).toFixed(2) : "–"} |`,
    );
  }
  out.push(
    prose.section("image-ranges", {
      ranges: s.rangesPerSize,
      connections: s.connections,
      table: rangeRows.join("\n"),
    }),
    "",
  );

  out.push(prose.section("observations"), "", ...observations(run, by), "");
  return `${out.join("\n")}\n`;
}

/** The computed observations: where the CPU of a request goes, per server and per range size. */
function observations({ cold, imageConfigs }, by) {
  const [nginx, bare, hit, miss] = ["nginx", "bare", "hit", "miss"].map(by);
  const cpu = (c) => perThousand(best(c.runs));
  const busy = (c) => best(c.runs).serverCpu / best(c.runs).seconds;
  const missExtra = (cpu(miss) - cpu(bare)).toFixed(3);
  const out = [
    prose.section("observation-cpu", {
      nginx: cpu(nginx).toFixed(3),
      bare: cpu(bare).toFixed(3),
      bareOverNginx: times(ratio(cpu(bare), cpu(nginx))),
      hit: cpu(hit).toFixed(3),
      hitOverBare: times(ratio(cpu(hit), cpu(bare))),
      miss: cpu(miss).toFixed(3),
      missOverBare: times(ratio(cpu(miss), cpu(bare))),
      missExtra,
    }),
    prose.section("observation-miss-split", {
      missExtra,
      cacheWork: (cpu(by("bare-fill")) - cpu(bare)).toFixed(3),
      ownWork: (cpu(by("stub")) - cpu(bare)).toFixed(3),
    }),
    prose.section("observation-busy", {
      nginx: busy(nginx).toFixed(2),
      bare: busy(bare).toFixed(2),
      hit: busy(hit).toFixed(2),
      miss: busy(miss).toFixed(2),
    }),
  ];
  if (cold.runs.length > 0) {
    const c = cold.runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    out.push(
      prose.section("observation-cold", {
        cpu: perThousand(c).toFixed(3),
        overBare: times(ratio(perThousand(c), perThousand(c.bare))),
      }),
    );
  }
  for (const size of [...new Set(imageConfigs.map((c) => c.size))]) {
    const parts = imageConfigs
      .filter((c) => c.size === size && c.kind !== "nginx")
      .map((c) => {
        const b = best(c.runs);
        return prose.section("observation-image-part", {
          kind: c.kind,
          cpu: ms((1000 * b.serverCpu) / b.requests),
          rate: ((b.requests * size) / 1e6 / b.serverCpu).toFixed(0),
        });
      });
    out.push(prose.section("observation-image", { sizeKiB: size / 1024, parts: parts.join(", ") }));
  }
  return out;
}
