// The Markdown report of bench/fetch.mjs.
import { availableParallelism } from "node:os";
import { IMAGE_BYTES } from "./images.mjs";
import { READ_BYTES, stats } from "./latency.mjs";
import { CACHE, fsType, machineLines, mb, profileLines, REPEAT, x } from "./run.mjs";

const TARGET = 3;
const speed = (r) => IMAGE_BYTES / 1e6 / r.seconds;
const cpuOf = (r) => (r.cpu ? r.cpu.user + r.cpu.sys : Number.NaN);
const ms = (v) => (v === undefined ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));

export function render(run) {
  const { configs, images, latency } = run;
  const peer = configs.find((c) => c.peer);
  const places = (text) =>
    text
      .replaceAll(run.nginx.url, "$URL")
      .replaceAll(run.scratch, "$SCRATCH")
      .replaceAll(`${run.runsDir}/www`, "$WWW")
      .replaceAll(run.runsDir, "$CACHE/fetch-runs")
      .replaceAll(CACHE, "$CACHE");
  const out = ["# Fetch benchmark: edgeboot fetch vs casync extract, and NBD read latency", ""];
  out.push(
    "Made by `npm run bench:fetch` (bench/fetch.mjs). Compare only figures of one run.",
    "",
    ...machineLines([run.nginx.version]),
    `- rounds: ${configs[0].runs.length} of ${REPEAT} (best wall time kept; interleaved rounds); both clients read from one nginx on 127.0.0.1 (loopback, one worker) that shares the cores with them`,
    `- \`$SCRATCH\` (outputs, edgeboot's cache directories, casync's TMPDIR) is \`${run.scratch}\` (${fsType(run.scratch)}); \`$WWW\` (the stores nginx serves) is \`$CACHE/fetch-runs/www\` (${fsType(CACHE)}, in the page cache); \`$CACHE\` is \`${CACHE}\``,
    "",
  );

  out.push("## Test image", "");
  out.push(
    `v1.img of bench/publish.mjs: ${IMAGE_BYTES} bytes (256 MiB) of real OS files in a sorted deterministic tar`,
    `(${images.files} files listed, ${images.membersInImage} members inside the 256 MiB); the commands that make it are in`,
    `[publish.md](publish.md#test-images). sha256 \`${images.sha256.v1}\`, made ${images.made}. Every output`,
    "of every run below was checked against it.",
    "",
  );

  out.push("## Stores and server", "", "```sh");
  out.push(...run.commands.map(places), places(run.nginx.command), "```", "");
  out.push(
    "| store | chunks in the image | chunk files | chunk bytes MB | mean chunk KiB (uncompressed) |",
    "|---|---:|---:|---:|---:|",
  );
  for (const [key, label] of [
    ["casync", "casync (`casync make` defaults: zstd, 64 KiB average CDC)"],
    ["edgeboot", "edgeboot (fixed:256K, zstd 3)"],
    ["edgeboot-cdc", "edgeboot (cdc:16K/64K/256K, zstd 3)"],
  ]) {
    const s = run.stores[key];
    out.push(
      `| ${label} | ${s.lengths.length} | ${s.files.count} | ${mb(s.files.bytes)} | ${(IMAGE_BYTES / s.lengths.length / 1024).toFixed(1)} |`,
    );
  }
  out.push(
    "",
    "nginx configuration (generated):",
    "",
    "```nginx",
    places(run.nginx.conf).trim(),
    "```",
    "",
  );

  out.push("## Commands (round 1; each round has directories of its own)", "", "```sh");
  for (const c of configs) {
    const r = c.runs[0];
    const env = c.peer ? `TMPDIR=${places(r.argv.at(-1).replace(/\.img$/, "-tmp"))} ` : "";
    out.push(places(env + r.argv.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")));
  }
  out.push("```", "");
  out.push(
    "casync gets `--seed-output=no` (the output never exists beforehand, so it changes nothing) and",
    "no `--cache`, so every casync run is cold. A cold edgeboot run gets an empty `--cache-dir`; the",
    "warm run after it reuses that directory (nothing downloaded; the ref is still fetched).",
    "",
  );

  out.push("## Whole image: 256 MiB from the static server to a file", "");
  out.push(
    "MB/s = 268.4 MB ÷ wall time (process start to exit). CPU = user+sys of the process and the",
    "children it waited for (casync runs its HTTP helper, casync-http, as a child); ÷ wall = cores busy.",
    "Peak RSS = largest single process. Requests and connections: nginx's stub_status before and",
    "after the run; loopback MB: bytes sent over `lo` during the run (requests, responses, headers).",
    "Ratios against casync extract: best against best, and per round. The *floor* rows are not",
    "clients: they GET the fixed store's chunks and throw them away (bench/lib/floor.mjs; curl with a",
    "config file listing every chunk URL), to show what downloading alone costs in each runtime.",
    "",
    "| configuration | MB/s | × casync | × casync, each round | wall s (runs) | CPU s (cores busy) | peak RSS MB | requests | connections | loopback MB | downloaded |",
    "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|",
  );
  for (const c of configs) {
    if (!c.best) continue;
    const b = c.best;
    const rounds = c.runs.map((r, i) => x(peer.runs[i].seconds, r.seconds)).join(", ");
    const downloaded = c.floor
      ? "discarded"
      : c.peer
        ? "every chunk (no cache)"
        : `${b.downloaded} chunks${b.downloaded ? `, ${mb(b.cacheBytes)} MB` : ""}; ${b.fromCache} from the cache`;
    out.push(
      `| ${c.label} | ${speed(b).toFixed(1)} | ${x(speed(b), speed(peer.best))} | ${rounds} | ${c.runs.map((r) => r.seconds.toFixed(2)).join(", ")} | ${cpuOf(b).toFixed(2)} (${(cpuOf(b) / b.seconds).toFixed(2)}) | ${b.cpu ? b.cpu.rssMb.toFixed(0) : "–"} | ${b.http.requests} | ${b.http.connections} | ${mb(b.loopback)} | ${downloaded} |`,
    );
  }
  out.push("");

  out.push(
    `## Target: edgeboot fetch at least ${TARGET}× casync extract's MB/s (cold, same server)`,
    "",
  );
  out.push("| configuration | best | every round | verdict |", "|---|---|---|---|");
  for (const c of configs.filter((k) => !k.peer && !k.coldKey && !k.floor)) {
    const ratio = speed(c.best) / speed(peer.best);
    const rounds = c.runs.map((r, i) => peer.runs[i].seconds / r.seconds);
    out.push(
      `| ${c.label} | ${ratio >= TARGET ? "yes" : "NO"} (${ratio.toFixed(2)}×) | ${Math.min(...rounds) >= TARGET ? "yes" : "NO"} (${rounds.map((v) => `${v.toFixed(2)}×`).join(", ")}) | ${ratio >= TARGET ? "meets" : "misses"} the target |`,
    );
  }
  out.push("", ...nativeWorkSection(run.native, peer, places));

  if (run.disk.length > 0) {
    const diskPeer = run.disk.find((d) => d.key === "casync")?.r;
    out.push(
      "## Context: scratch on disk instead of tmpfs (one run each, not used for the target)",
      "",
    );
    out.push(
      `The same commands with \`$SCRATCH\` on ${fsType(CACHE)} under \`$CACHE/fetch-runs/scratch-disk\` (casync's TMPDIR`,
      "there too), run once each in this order after everything else, after a `sync`.",
      "",
      "| configuration | MB/s | × casync (same placement) | wall s | CPU s (user + sys) |",
      "|---|---:|---:|---:|---|",
    );
    for (const d of run.disk) {
      out.push(
        `| ${d.label} | ${speed(d.r).toFixed(1)} | ${diskPeer ? x(speed(d.r), speed(diskPeer)) : "–"} | ${d.r.seconds.toFixed(2)} | ${d.r.cpu ? `${cpuOf(d.r).toFixed(2)} (${d.r.cpu.user.toFixed(2)} + ${d.r.cpu.sys.toFixed(2)})` : "–"} |`,
      );
    }
    out.push("");
  }

  out.push(...latencySection(latency, places), ...profileSection(run.profiles));
  out.push(...observations(configs, peer, latency), "");
  return `${out.join("\n")}\n`;
}

function latencySection(latency, places) {
  const out = ["## Random 4 KiB reads through `edgeboot nbd` (latency, ms)", ""];
  out.push(
    `${latency.reads} reads of ${READ_BYTES} bytes at ${READ_BYTES}-aligned offsets drawn uniformly over the image (mulberry32,`,
    "seed 0x5eed; the same offsets in every pass), one at a time over one connection, each timed at",
    "the client from sending the request to the last byte of the reply and checked against v1.img.",
    "Simple replies (no structured replies negotiated). Server, with `$SCRATCH/nbd/cache` fresh:",
    "",
    "```sh",
    places(latency.serverArgv.join(" ")),
    "```",
    "",
    "*first* = the first read of its chunk on that server in that pass: a download in a cold pass,",
    "a disk-cache read after a restart; *repeat* = a later read of a chunk read before on that server",
    "(from memory, unless evicted: the server keeps 64 MiB of decoded chunks). Handshake = connect",
    "and NBD_OPT_GO (the server resolves the ref and the manifest then).",
    "",
    "| pass | reads | handshake | p50 | p90 | p99 | max | mean |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  const row = (label, samples, handshake) => {
    const s = stats(samples);
    return `| ${label} | ${s.n} | ${ms(handshake)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${ms(s.mean)} |`;
  };
  for (const p of latency.phases) {
    out.push(
      row(
        `**${p.label}**, all`,
        p.reads.map((r) => r.ms),
        p.handshakeMs,
      ),
    );
    for (const kind of ["first", "repeat"]) {
      const some = p.reads.filter((r) => r.kind === kind).map((r) => r.ms);
      if (some.length > 0 && !p.same) out.push(row(`  ${kind}`, some));
    }
  }
  out.push(
    row(
      "peer: nginx, 4 KiB range GET of the raw image (undici, keep-alive), same offsets",
      latency.raw,
    ),
    row(
      "peer: nginx, GET of each chunk frame the cold pass downloaded, in its order",
      latency.frames,
    ),
    "",
  );
  return out;
}

/**
 * What the target asks against the work any verifying client must do: the native tools' CPU for
 * decoding every frame and hashing the image twice, spread perfectly over every core.
 */
function nativeWorkSection(native, peer, places) {
  if (!native) return [];
  const cores = availableParallelism();
  const budget = (IMAGE_BYTES / 1e6 / (TARGET * speed(peer.best))) * cores;
  const bound = (cpu) => {
    const wall = cpu / cores;
    const rate = IMAGE_BYTES / 1e6 / wall;
    return `${cpu.toFixed(2)} s | ${wall.toFixed(2)} s | ${rate.toFixed(0)} | ${x(rate, speed(peer.best))}`;
  };
  return [
    `## What ${TARGET}× would take: the work every verifying client must do`,
    "",
    `${TARGET}× casync's best is ${(TARGET * speed(peer.best)).toFixed(0)} MB/s: the whole fetch in ${(IMAGE_BYTES / 1e6 / (TARGET * speed(peer.best))).toFixed(2)} s, at most ${budget.toFixed(2)} s of CPU on`,
    `${cores} cores. A client that checks what DESIGN.md promises must decode every frame, hash every chunk`,
    "(a chunk's id is the SHA-256 of its uncompressed bytes) and hash the whole image (the manifest's",
    "sha256). Here is that work alone, done by native tools at native speed (best CPU of each; no HTTP,",
    `no output file, no cache), and the best a client could do with it spread perfectly over ${cores} cores:`,
    "",
    "```sh",
    ...native.commands.map(places),
    "```",
    "",
    `| work | CPU | wall on ${cores} cores at best | MB/s at best | × casync |`,
    "|---|---:|---:|---:|---:|",
    `| zstd decode of every frame | ${bound(native.decode)} |`,
    `| SHA-256 of the image, once | ${bound(native.sha256)} |`,
    `| decode + image sha256 (the manifest check alone) | ${bound(native.decode + native.sha256)} |`,
    `| decode + chunk ids + image sha256 (every check) | ${bound(native.decode + 2 * native.sha256)} |`,
    "",
  ];
}

function profileSection(profiles) {
  if (profiles.length === 0) return [];
  const out = ["## Where the time goes (one extra run each under `node --cpu-prof`)", ""];
  out.push(
    "Thread 0 is the main thread. zstd decoding and file I/O run on libuv's thread pool, which",
    "--cpu-prof does not see; busy = profiled time not idle. Profiling slows the run somewhat.",
    "",
  );
  out.push(...profileLines(profiles));
  out.push("");
  return out;
}

/** Plain statements computed from the numbers; the human write-up goes below them. */
function observations(configs, peer, latency) {
  const by = (key) => configs.find((c) => c.key === key)?.best;
  const cold = by("eb");
  const warm = by("eb-warm");
  const cores = availableParallelism();
  const out = ["## Observations (computed)", ""];
  out.push(
    `- CPU for the 256 MiB: casync extract ${cpuOf(peer.best).toFixed(2)} s (${(cpuOf(peer.best) / peer.best.seconds).toFixed(2)} cores busy); edgeboot fetch cold ${cpuOf(cold).toFixed(2)} s (${(cpuOf(cold) / cold.seconds).toFixed(2)} cores busy), ${x(cpuOf(cold), cpuOf(peer.best))} casync's CPU.`,
  );
  const floor = cpuOf(cold) / cores;
  out.push(
    `- Even with all ${cores} cores busy all the time, ${cpuOf(cold).toFixed(2)} s of CPU takes ${floor.toFixed(2)} s: at most ${(IMAGE_BYTES / 1e6 / floor).toFixed(0)} MB/s, ${x(IMAGE_BYTES / 1e6 / floor, speed(peer.best))} casync's best; ${TARGET}× would need ${((IMAGE_BYTES / 1e6 / (TARGET * speed(peer.best))) * cores).toFixed(2)} s of CPU or less on ${cores} cores.`,
  );
  const perRequest = configs
    .filter((c) => !c.coldKey && c.floor !== "curl")
    .map((c) => {
      const perMs = (1000 * cpuOf(c.best)) / c.best.http.requests;
      return `${c.floor ? c.key : c.label} ${perMs.toFixed(2)} ms (${c.best.http.requests} requests)`;
    });
  out.push(`- CPU per HTTP request (whole run ÷ requests): ${perRequest.join("; ")}.`);
  const floors = configs.filter((c) => c.floor && c.best);
  if (floors.length > 0) {
    const list = floors.map(
      (c) => `${c.key} ${speed(c.best).toFixed(0)} MB/s (${x(speed(c.best), speed(peer.best))})`,
    );
    out.push(
      `- Floors, which verify nothing and write nothing: ${list.join(", ")} casync extract's best.`,
    );
  }
  out.push(
    `- With nothing to download (warm cache), edgeboot fetch runs at ${speed(warm).toFixed(1)} MB/s, ${x(speed(warm), speed(peer.best))} casync's cold speed, on ${cpuOf(warm).toFixed(2)} s of CPU.`,
  );
  const coldPhase = latency.phases[0];
  const firsts = stats(coldPhase.reads.filter((r) => r.kind === "first").map((r) => r.ms));
  const frames = stats(latency.frames);
  out.push(
    `- A cold 4 KiB read that downloads its chunk takes ${ms(firsts.p50)} ms at p50; GETting that chunk's frame alone from nginx takes ${ms(frames.p50)} ms, so the client adds ${ms(firsts.p50 - frames.p50)} ms (decode, verify, cache write, NBD).`,
  );
  return out;
}
