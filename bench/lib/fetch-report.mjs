// The Markdown report of bench/fetch.mjs: tables computed here, prose in bench/templates/fetch.md.
import { availableParallelism } from "node:os";
import { IMAGE_BYTES } from "./images.mjs";
import { READ_BYTES, stats } from "./latency.mjs";
import { CACHE, fsType, machineLines, mb, profileLines, REPEAT, x } from "./run.mjs";
import { template } from "./template.mjs";

const prose = template("fetch");

/**
 * CPU per byte (issue 14), on loopback against a cold casync extract's MB/s, same run: a cold
 * fetch at least COLD_TARGET× (STRETCH_TARGET× the stretch), a warm one at least WARM_TARGET×.
 */
const COLD_TARGET = 1;
const STRETCH_TARGET = 1.5;
const WARM_TARGET = 2;
/** Latency hiding: behind this round trip, a cold fetch takes at most LATENCY_TARGET × its loopback time. */
const LATENCY_RTT_MS = 200;
const LATENCY_TARGET = 1.5;
const speed = (r) => IMAGE_BYTES / 1e6 / r.seconds;
const cpuOf = (r) => (r.cpu ? r.cpu.user + r.cpu.sys : Number.NaN);
const ms = (v) => (v === undefined ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));

/**
 * The report of a run of bench/fetch.mjs: its configurations and their runs, the stores, the
 * latency passes, and the optional parts (`disk`, `native`, `profiles`) when they ran.
 */
export function render(run) {
  const { configs, images, latency } = run;
  const peer = configs.find((c) => c.peer && !c.rttMs);
  const delays = run.delays ?? [];
  const places = (text) =>
    delays
      .reduce((t, d) => t.replaceAll(d.url, `$RTT${d.rttMs}`), text)
      .replaceAll(run.nginx.url, "$URL")
      .replaceAll(run.scratch, "$SCRATCH")
      .replaceAll(`${run.runsDir}/www`, "$WWW")
      .replaceAll(run.runsDir, "$CACHE/fetch-runs")
      .replaceAll(CACHE, "$CACHE");
  const out = [
    prose.section("intro", {
      machine: machineLines([run.nginx.version]).join("\n"),
      rounds: configs[0].runs.length,
      repeat: REPEAT,
      scratch: run.scratch,
      scratchFs: fsType(run.scratch),
      cacheFs: fsType(CACHE),
      cache: CACHE,
    }),
    "",
    prose.section("test-image", {
      imageBytes: IMAGE_BYTES,
      files: images.files,
      members: images.membersInImage,
      sha256: images.sha256.v1,
      made: images.made,
    }),
    "",
  ];

  const storeRows = [
    "| store | chunks in the image | chunk files | chunk bytes MB | mean chunk KiB (uncompressed) |",
    "|---|---:|---:|---:|---:|",
  ];
  for (const [key, label] of [
    ["casync", "casync (`casync make` defaults: zstd, 64 KiB average CDC)"],
    ["edgeboot", "edgeboot (fixed:256K, zstd 3)"],
    ["edgeboot-cdc", "edgeboot (cdc:16K/64K/256K, zstd 3)"],
  ]) {
    const s = run.stores[key];
    storeRows.push(
      `| ${label} | ${s.lengths.length} | ${s.files.count} | ${mb(s.files.bytes)} | ${(IMAGE_BYTES / s.lengths.length / 1024).toFixed(1)} |`,
    );
  }
  out.push(
    prose.section("stores", {
      commands: [...run.commands, run.nginx.command].map(places).join("\n"),
      table: storeRows.join("\n"),
      nginxConf: places(run.nginx.conf).trim(),
    }),
    "",
  );

  const commands = configs.map((c) => {
    const r = c.runs[0];
    const env = c.peer ? `TMPDIR=${places(r.argv.at(-1).replace(/\.img$/, "-tmp"))} ` : "";
    return places(env + r.argv.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" "));
  });
  out.push(prose.section("commands", { commands: commands.join("\n") }), "");

  const wholeRows = [
    "| configuration | MB/s | × casync | × casync, each round | wall s (runs) | CPU s (cores busy) | peak RSS MB | requests | connections | loopback MB | downloaded |",
    "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|",
  ];
  for (const c of configs) {
    if (!c.best) continue;
    const b = c.best;
    const rounds = c.runs.map((r, i) => x(peer.runs[i].seconds, r.seconds)).join(", ");
    const downloaded = c.floor
      ? "discarded"
      : c.peer
        ? "every chunk (no cache)"
        : `${b.downloaded} chunks${b.downloaded ? `, ${mb(b.cacheBytes)} MB` : ""}; ${b.fromCache} from the cache`;
    wholeRows.push(
      `| ${c.label} | ${speed(b).toFixed(1)} | ${x(speed(b), speed(peer.best))} | ${rounds} | ${c.runs.map((r) => r.seconds.toFixed(2)).join(", ")} | ${cpuOf(b).toFixed(2)} (${(cpuOf(b) / b.seconds).toFixed(2)}) | ${b.cpu ? b.cpu.rssMb.toFixed(0) : "–"} | ${b.http.requests} | ${b.http.connections} | ${mb(b.loopback)} | ${downloaded} |`,
    );
  }
  out.push(prose.section("whole-image", { table: wholeRows.join("\n") }), "");

  const targetRows = [
    "| configuration | target | best | every round | stretch: cold at least 1.5× | verdict |",
    "|---|---|---|---|---|---|",
  ];
  for (const c of configs.filter((k) => !k.peer && !k.floor && !k.rttMs)) {
    const target = c.coldKey ? WARM_TARGET : COLD_TARGET;
    const ratio = speed(c.best) / speed(peer.best);
    const rounds = c.runs.map((r, i) => peer.runs[i].seconds / r.seconds);
    const met = (v) => `${v >= target ? "yes" : "NO"} (${v.toFixed(2)}×)`;
    const stretch = c.coldKey ? "–" : ratio >= STRETCH_TARGET ? "yes" : "NO";
    targetRows.push(
      `| ${c.label} | ${c.coldKey ? "warm" : "cold"}: at least ${target}× | ${met(ratio)} | ${Math.min(...rounds) >= target ? "yes" : "NO"} (${rounds.map((v) => `${v.toFixed(2)}×`).join(", ")}) | ${stretch} | ${ratio >= target ? "meets" : "misses"} the target |`,
    );
  }
  out.push(
    prose.section("target", {
      cold: COLD_TARGET,
      stretch: STRETCH_TARGET,
      warm: WARM_TARGET,
      table: targetRows.join("\n"),
    }),
    "",
  );
  out.push(...latencySections(configs, delays));
  out.push(...nativeWorkSection(run.native, peer, places));

  if (run.disk.length > 0) {
    const diskPeer = run.disk.find((d) => d.key === "casync")?.r;
    const diskRows = [
      "| configuration | MB/s | × casync (same placement) | wall s | CPU s (user + sys) |",
      "|---|---:|---:|---:|---|",
    ];
    for (const d of run.disk) {
      diskRows.push(
        `| ${d.label} | ${speed(d.r).toFixed(1)} | ${diskPeer ? x(speed(d.r), speed(diskPeer)) : "–"} | ${d.r.seconds.toFixed(2)} | ${d.r.cpu ? `${cpuOf(d.r).toFixed(2)} (${d.r.cpu.user.toFixed(2)} + ${d.r.cpu.sys.toFixed(2)})` : "–"} |`,
      );
    }
    out.push(
      prose.section("scratch-on-disk", { cacheFs: fsType(CACHE), table: diskRows.join("\n") }),
      "",
    );
  }

  out.push(...latencySection(latency, places), ...profileSection(run.profiles));
  out.push(...observations(configs, peer, latency), "");
  return `${out.join("\n")}\n`;
}

/**
 * The cold fetch behind each round trip against its own loopback time in the same rounds (and
 * casync's, where it ran): the target of latency hiding, then the detail.
 */
function latencySections(configs, delays) {
  if (delays.length === 0) return [];
  const by = (key) => configs.find((c) => c.key === key);
  const loopback = by("eb");
  const casync = by("casync");
  const ratios = (c, base) => ({
    best: c.best.seconds / base.best.seconds,
    rounds: c.runs.map((r, i) => r.seconds / (base.runs[i] ?? base.best).seconds),
  });
  const times = (c) => c.runs.map((r) => r.seconds.toFixed(2)).join(", ");
  const list = (values) => values.map((v) => `${v.toFixed(2)}×`).join(", ");
  const targetRows = [`| round trip | best ÷ best | every round | verdict |`, "|---|---|---|---|"];
  const rows = [
    "| round trip | edgeboot fetch, cold: wall s (runs) | × its loopback time (best ÷ best) | each round | peak requests in flight | connections | casync extract: wall s (runs) | × casync's loopback time |",
    "|---|---|---:|---|---:|---:|---|---:|",
    `| none (loopback, no proxy) | ${times(loopback)} | 1.00× | – | – | ${loopback.best.http.connections} | ${times(casync)} | 1.00× |`,
  ];
  for (const { rttMs } of delays) {
    const eb = by(`eb-rtt${rttMs}`);
    const peer = by(`casync-rtt${rttMs}`);
    if (!eb?.best) continue;
    const r = ratios(eb, loopback);
    const peerCells = peer?.best
      ? `${times(peer)} | ${(peer.best.seconds / casync.best.seconds).toFixed(2)}×`
      : "not run (one request at a time: too long for the budget) | –";
    rows.push(
      `| ${rttMs} ms | ${times(eb)} | ${r.best.toFixed(2)}× | ${list(r.rounds)} | ${eb.best.peakInFlight ?? "–"} | ${eb.best.http.connections} | ${peerCells} |`,
    );
    const met = (v) => (v <= LATENCY_TARGET ? "yes" : "NO");
    const all = Math.max(...r.rounds);
    targetRows.push(
      `| ${rttMs} ms${rttMs === LATENCY_RTT_MS ? " (the target)" : ""} | ${met(r.best)} (${r.best.toFixed(2)}×) | ${met(all)} (${list(r.rounds)}) | ${r.best <= LATENCY_TARGET ? "meets" : "misses"} the target |`,
    );
  }
  return [
    prose.section("target-latency", {
      rtt: LATENCY_RTT_MS,
      target: LATENCY_TARGET,
      table: targetRows.join("\n"),
    }),
    "",
    prose.section("latency-hiding", {
      rtts: delays.map((d) => `${d.rttMs}`).join(", "),
      table: rows.join("\n"),
    }),
    "",
  ];
}

function latencySection(latency, places) {
  const row = (label, samples, handshake) => {
    const s = stats(samples);
    return `| ${label} | ${s.n} | ${ms(handshake)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${ms(s.mean)} |`;
  };
  const rows = [
    "| pass | reads | handshake | p50 | p90 | p99 | max | mean |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const p of latency.phases) {
    rows.push(
      row(
        `**${p.label}**, all`,
        p.reads.map((r) => r.ms),
        p.handshakeMs,
      ),
    );
    for (const kind of ["first", "repeat"]) {
      const some = p.reads.filter((r) => r.kind === kind).map((r) => r.ms);
      if (some.length > 0 && !p.same) rows.push(row(`  ${kind}`, some));
    }
  }
  rows.push(
    row(
      "peer: nginx, 4 KiB range GET of the raw image (undici, keep-alive), same offsets",
      latency.raw,
    ),
    row(
      "peer: nginx, GET of each chunk frame the cold pass downloaded, in its order",
      latency.frames,
    ),
  );
  const section = prose.section("latency", {
    reads: latency.reads,
    readBytes: READ_BYTES,
    server: places(latency.serverArgv.join(" ")),
    table: rows.join("\n"),
  });
  return [section, ""];
}

/**
 * What the target asks against the work any verifying client must do: the native tools' CPU for
 * decoding every frame and hashing the image twice, spread perfectly over every core.
 */
function nativeWorkSection(native, peer, places) {
  if (!native) return [];
  const cores = availableParallelism();
  const budget = (IMAGE_BYTES / 1e6 / (STRETCH_TARGET * speed(peer.best))) * cores;
  const bound = (cpu) => {
    const wall = cpu / cores;
    const rate = IMAGE_BYTES / 1e6 / wall;
    return `${cpu.toFixed(2)} s | ${wall.toFixed(2)} s | ${rate.toFixed(0)} | ${x(rate, speed(peer.best))}`;
  };
  const rows = [
    `| work | CPU | wall on ${cores} cores at best | MB/s at best | × casync |`,
    "|---|---:|---:|---:|---:|",
    `| zstd decode of every frame | ${bound(native.decode)} |`,
    `| SHA-256 of the image, once | ${bound(native.sha256)} |`,
    `| decode + image sha256 (the manifest check alone) | ${bound(native.decode + native.sha256)} |`,
    `| decode + chunk ids + image sha256 (every check) | ${bound(native.decode + 2 * native.sha256)} |`,
  ];
  const section = prose.section("native-work", {
    target: STRETCH_TARGET,
    targetMBps: (STRETCH_TARGET * speed(peer.best)).toFixed(0),
    targetSeconds: (IMAGE_BYTES / 1e6 / (STRETCH_TARGET * speed(peer.best))).toFixed(2),
    budget: budget.toFixed(2),
    cores,
    commands: native.commands.map(places).join("\n"),
    table: rows.join("\n"),
  });
  return [section, ""];
}

function profileSection(profiles) {
  if (profiles.length === 0) return [];
  return [prose.section("profiles", { profiles: profileLines(profiles).join("\n") }), ""];
}

/** Plain statements computed from the numbers; the human write-up goes below them. */
function observations(configs, peer, latency) {
  const by = (key) => configs.find((c) => c.key === key)?.best;
  const cold = by("eb");
  const warm = by("eb-warm");
  const cores = availableParallelism();
  const out = [prose.section("observations"), ""];
  out.push(
    prose.section("observation-cpu", {
      casyncCpu: cpuOf(peer.best).toFixed(2),
      casyncBusy: (cpuOf(peer.best) / peer.best.seconds).toFixed(2),
      coldCpu: cpuOf(cold).toFixed(2),
      coldBusy: (cpuOf(cold) / cold.seconds).toFixed(2),
      coldOverCasync: x(cpuOf(cold), cpuOf(peer.best)),
    }),
  );
  const floor = cpuOf(cold) / cores;
  out.push(
    prose.section("observation-ceiling", {
      cores,
      coldCpu: cpuOf(cold).toFixed(2),
      floor: floor.toFixed(2),
      ceiling: (IMAGE_BYTES / 1e6 / floor).toFixed(0),
      ceilingOverCasync: x(IMAGE_BYTES / 1e6 / floor, speed(peer.best)),
      target: STRETCH_TARGET,
      budget: ((IMAGE_BYTES / 1e6 / (STRETCH_TARGET * speed(peer.best))) * cores).toFixed(2),
    }),
  );
  const perRequest = configs
    .filter((c) => !c.coldKey && c.floor !== "curl")
    .map((c) => {
      const perMs = (1000 * cpuOf(c.best)) / c.best.http.requests;
      return `${c.floor ? c.key : c.label} ${perMs.toFixed(2)} ms (${c.best.http.requests} requests)`;
    });
  out.push(prose.section("observation-per-request", { configs: perRequest.join("; ") }));
  const floors = configs.filter((c) => c.floor && c.best);
  if (floors.length > 0) {
    const list = floors.map(
      (c) => `${c.key} ${speed(c.best).toFixed(0)} MB/s (${x(speed(c.best), speed(peer.best))})`,
    );
    out.push(prose.section("observation-floors", { floors: list.join(", ") }));
  }
  out.push(
    prose.section("observation-warm", {
      speed: speed(warm).toFixed(1),
      overCasync: x(speed(warm), speed(peer.best)),
      cpu: cpuOf(warm).toFixed(2),
    }),
  );
  const coldPhase = latency.phases[0];
  const firsts = stats(coldPhase.reads.filter((r) => r.kind === "first").map((r) => r.ms));
  const frames = stats(latency.frames);
  out.push(
    prose.section("observation-cold-read", {
      read: ms(firsts.p50),
      frame: ms(frames.p50),
      added: ms(firsts.p50 - frames.p50),
    }),
  );
  return out;
}
