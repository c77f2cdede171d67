// The Markdown report of bench/boot.mjs.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { PHASES } from "./boot-guest.mjs";
import { CACHE, fsType, machineLines, REPEAT } from "./run.mjs";

const TARGET = 3;

const KINDS = {
  cold: "cold cache, on demand",
  warm: "warm cache (server restarted)",
  prefetch: "cold cache + prefetch list",
  peer: "peer: nbdkit -r file (local, no network)",
};

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (ms === undefined || Number.isNaN(ms) ? "–" : (ms / 1000).toFixed(2));
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`;
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}×` : "–");

/**
 * The report: `boots` of `images` (each with its recorded boot and publish output), `loads` the
 * load averages taken during the run, `work` the work directory, `nbdArgs` what every
 * `edgeboot nbd` was given beyond its defaults.
 */
export function render({ images, boots, proxy, peerNote, kernel, loads, work, nbdArgs }) {
  const qemu = spawnSync("qemu-system-x86_64", ["--version"]).stdout.toString().split("\n")[0];
  const nbdkit = spawnSync("nbdkit", ["--version"]).stdout?.toString().trim() || "no nbdkit";
  const rounds = Math.max(...boots.map((b) => b.round));
  const places = (text) =>
    text
      .replaceAll(work, "$WORK")
      .replaceAll(proxy.url, "$PROXY")
      .replaceAll(CACHE, "$CACHE")
      .replaceAll(kernel.root, "$KERNEL");
  const of = (image, kind) => boots.filter((b) => b.image === image && b.kind === kind);
  const out = [
    "# Boot benchmark: cold, warm and prefetched boots through edgeboot nbd, 50 ms from the edge",
    "",
    "Made by `npm run bench:boot` (bench/boot.mjs). Compare only figures of one run.",
    "",
    ...machineLines([qemu, nbdkit]),
    `- guest: Debian's cloud kernel ${kernel.version}, qemu TCG (software emulation, 1 vCPU, 256 MiB), the initramfs and root filesystems of scripts/boot; every boot checks what it read by SHA-256 before it prints its marker`,
    `- edge: the Worker in Miniflare (in-memory R2) on 127.0.0.1, behind bench/lib/delay-proxy.mjs: +${proxy.rttMs} ms per request (half before forwarding, half before the response), one more round trip for each new connection, requests overlap, bandwidth unlimited`,
    `- load average (1, 5, 15 min): ${loads.join("; ")}; the machine is shared, and under TCG the guest's speed follows whatever else runs`,
    `- rounds: ${rounds} of ${REPEAT}, interleaved (each round boots every image in every way, in a rotated order; round 1's cold boot of each image is the recorded one, before NAME-prefetch exists); best and median shown; \`$WORK\` is \`${work}\` (${fsType(CACHE)})`,
    "",
  ];

  out.push("## Images", "");
  out.push(
    "| image | size MiB | chunks (distinct) | distinct chunk bytes MiB | stored (zstd) MiB | read by the recorded boot | how made |",
    "|---|---:|---:|---:|---:|---|---|",
  );
  for (const image of images) {
    const c = image.recordBoot.coverage;
    const stored = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.publish);
    const read = image.recordBoot.read;
    out.push(
      `| ${image.name} | ${mib(c.size)} | ${c.chunks} (${c.distinct.chunks}) | ${mib(c.distinct.bytes)} | ${stored?.[2] ?? "–"} | ${read ? `${read.chunks} chunks, ${mib(read.bytes)} MiB` : "–"} | ${image.made} |`,
    );
  }
  out.push("");
  for (const image of images) out.push(`- ${image.name}: ${image.description}`);
  out.push(
    "- chunking: the publish default, fixed 256 KiB, zstd level 3. *Read by the recorded boot*: the distinct chunks under the guest's reads as `edgeboot nbd --record` saw them (read-ahead and prefetch not counted).",
    "",
  );

  out.push("## Commands", "", "```sh");
  const first = boots.find((b) => b.kind === "cold");
  out.push(
    "# once per image: publish it, record a cold boot (through the proxy) …",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish $WORK/IMAGE.img --name NAME --edge $EDGE",
    "node bin/edgeboot.js nbd $PROXY --listen 127.0.0.1:0 --cache-dir $WORK/r1-NAME-cold-cache --record $WORK/record-NAME.json",
    "# … and publish the same image as NAME-prefetch with that profile (its image renamed NAME-prefetch",
    "# in the file), so that on-demand and prefetch boots can alternate; no chunk is uploaded",
    "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish $WORK/IMAGE.img --name NAME-prefetch --edge $EDGE --profile $WORK/profile-NAME-prefetch.json",
    "# each boot: a server (cold and prefetch: fresh --cache-dir; warm: the round's cold one, new process) …",
    `node bin/edgeboot.js nbd $PROXY --listen 127.0.0.1:0 --cache-dir $WORK/rN-NAME-KIND-cache${nbdArgs.length ? ` ${nbdArgs.join(" ")}` : ""}`,
    "nbdkit -r -f -i 127.0.0.1 -p PORT file $WORK/IMAGE.img   # the peer",
    "# … and the guest (export NAME, or NAME-prefetch for the prefetch boots)",
    places(
      `qemu-system-x86_64 ${first.args.map((a) => (/[\s,]/.test(a) && !a.startsWith("file=") ? `'${a}'` : a)).join(" ")}`,
    ).replace(/nbd:\/\/127\.0\.0\.1:\d+\/\S+?,/, "nbd://127.0.0.1:PORT/NAME,"),
    "```",
    "",
  );
  for (const image of images) {
    const line = /prefetch\s+(\d+) chunks/.exec(image.republish);
    const upload = /new\s+(\d+) chunks, ([\d.]+) MiB uploaded/.exec(image.republish);
    out.push(
      `- publishing ${image.name}-prefetch with the profile: prefetch list of ${line?.[1] ?? "?"} chunks, ${upload?.[1] ?? "?"} new chunks (${upload?.[2] ?? "?"} MiB) uploaded`,
    );
  }
  out.push(
    `- \`edgeboot nbd\` defaults: \`--jobs\` ${Math.max(8, availableParallelism() * 4)} here (max(8, 4 × cores)) requests in flight, read-ahead of 8 chunks, the prefetch list loaded \`--jobs\` at once from the first connection (qemu connects at its start, before the firmware runs)${nbdArgs.length ? `; this run added \`${nbdArgs.join(" ")}\` to every \`edgeboot nbd\`` : ""}`,
    "",
  );

  out.push("## Boot times (seconds)", "");
  out.push(
    "Whole boot = qemu's start to the marker line on the serial console. Root fs phase = from the",
    "kernel line announcing the root disk (`virtio_blk virtio0: [vda] …`; the partition scan reads it",
    "right after, then the initramfs mounts it) to the marker: the part of the boot that reads the",
    "root filesystem. Everything before it is the same in every case except qemu's NBD handshake (the",
    "ref and manifest, fetched when qemu connects at its start: *start requests*). Chunk requests",
    "and MB: through the proxy during that boot (chunk frames, compressed). *Edge busy*: how long at",
    "least one chunk request was in flight during the root fs phase (an upper bound on the time the",
    "guest waited for the edge; read-ahead can keep requests in flight that nobody waits for).",
    "",
    "| image | boot | whole: best | median | rounds | root fs phase: best | median | rounds | chunk requests (median) | MB over the proxy | start requests | edge busy in root fs phase |",
    "|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const whole = bs.map((b) => b.wholeMs);
      const fs = bs.map((b) => b.rootfsMs);
      const http = bs.filter((b) => b.http);
      out.push(
        `| ${image.name} | ${label} | ${sec(Math.min(...whole))} | ${sec(median(whole))} | ${whole.map(sec).join(", ")} | ${sec(Math.min(...fs))} | ${sec(median(fs))} | ${fs.map(sec).join(", ")} | ${http.length ? median(http.map((b) => b.http.chunkRequests)) : "–"} | ${http.length ? (median(http.map((b) => b.http.bytes)) / 1e6).toFixed(1) : "–"} | ${http.length ? median(http.map((b) => b.http.startRequests)) : "–"} | ${http.length ? sec(median(http.map((b) => b.http.busyMs))) : "–"} |`,
      );
    }
  }
  out.push("");

  out.push("## Phases (median seconds, from the console's timestamps)", "");
  out.push(
    `| image | boot | ${PHASES.map(([, label]) => label).join(" | ")} | whole |`,
    `|---|---|${PHASES.map(() => "---:").join("|")}|---:|`,
  );
  for (const image of images) {
    for (const [kind, label] of Object.entries(KINDS)) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      out.push(
        `| ${image.name} | ${label} | ${PHASES.map(([key]) => sec(median(bs.map((b) => b.phases[key])))).join(" | ")} | ${sec(median(bs.map((b) => b.wholeMs)))} |`,
      );
    }
  }
  out.push("");

  out.push(`## Targets: prefetch list at least ${TARGET}× faster than on-demand, cold cache`, "");
  out.push(
    "Ratio = on-demand cold time ÷ prefetch cold time: of the medians, of the bests, and per round",
    "(each prefetch boot against the on-demand boot of its round). Warm and the nbdkit peer show the",
    "floor a prefetch boot could reach; *bound* = cold on-demand ÷ nbdkit (the image read locally,",
    "no network at all): the most any prefetch could gain on this machine.",
    "",
    "| image | measure | cold, on demand (median) | cold + prefetch (median) | warm (median) | nbdkit (median) | ratio of medians | ratio of bests | per round | bound: cold ÷ nbdkit | target met |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
  );
  const targets = [];
  for (const image of images) {
    const cold = of(image.name, "cold");
    const pre = of(image.name, "prefetch");
    if (cold.length === 0 || pre.length === 0) continue;
    for (const [label, f] of [
      ["whole boot", (b) => b.wholeMs],
      ["root fs phase", (b) => b.rootfsMs],
    ]) {
      const m = (kind) => {
        const bs = of(image.name, kind);
        return bs.length ? median(bs.map(f)) : Number.NaN;
      };
      const best = (bs) => Math.min(...bs.map(f));
      const r = m("cold") / m("prefetch");
      const rBest = best(cold) / best(pre);
      const per = cold
        .map((b) => {
          const q = pre.find((x) => x.round === b.round);
          return q ? ratio(f(b), f(q)) : undefined;
        })
        .filter(Boolean);
      const met = r >= TARGET;
      const bound = m("cold") / m("peer");
      targets.push({ image: image.name, label, ratio: r, best: rBest, met, bound });
      out.push(
        `| ${image.name} | ${label} | ${sec(m("cold"))} | ${sec(m("prefetch"))} | ${sec(m("warm"))} | ${sec(m("peer"))} | ${r.toFixed(2)}× | ${rBest.toFixed(2)}× | ${per.join(", ")} | ${Number.isNaN(bound) ? "–" : `${bound.toFixed(2)}×`} | ${met ? "yes" : "NO"} |`,
      );
    }
  }
  out.push("");

  out.push("## Share of the image fetched", "");
  out.push(
    "From the cache directory after each boot (`edgeboot cache --cache-dir DIR` and the chunk files",
    "it holds, matched against the manifest): distinct chunks, their uncompressed bytes, and the",
    "compressed bytes on disk, which are the bytes that crossed the network. Medians of the rounds.",
    "",
    "| image | boot | chunks fetched | of distinct | bytes fetched (uncompressed) MiB | of image size | of distinct chunk bytes | compressed MiB | of image size |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const kind of ["cold", "prefetch"]) {
      const bs = of(image.name, kind);
      if (bs.length === 0) continue;
      const c = bs[0].coverage;
      const chunks = median(bs.map((b) => b.coverage.cached.chunks));
      const bytes = median(bs.map((b) => b.coverage.cached.bytes));
      const packed = median(bs.map((b) => b.usage.compressedMiB)) * 2 ** 20;
      out.push(
        `| ${image.name} | ${KINDS[kind]} | ${chunks} | ${pct(chunks, c.distinct.chunks)} | ${mib(bytes)} | ${pct(bytes, c.size)} | ${pct(bytes, c.distinct.bytes)} | ${mib(packed)} | ${pct(packed, c.size)} |`,
      );
    }
    const read = image.recordBoot.read;
    const c = image.recordBoot.coverage;
    if (read) {
      out.push(
        `| ${image.name} | read by the guest (recorded boot) | ${read.chunks} | ${pct(read.chunks, c.distinct.chunks)} | ${mib(read.bytes)} | ${pct(read.bytes, c.size)} | ${pct(read.bytes, c.distinct.bytes)} | – | – |`,
      );
    }
  }
  out.push("");

  out.push("## Prefetch timing", "");
  out.push(
    "When the prefetch list was done (edgeboot nbd's log: seconds from the first connection, which",
    "is qemu's start) against when the guest first needed the root disk (the `[vda]` line), and the",
    "chunk requests that went out after that line (what the guest may have waited for).",
    "",
    "| image | round | prefetch list | loaded in s | root disk found at s | chunk requests before it | after it | last chunk response at s | marker at s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const image of images) {
    for (const b of of(image.name, "prefetch")) {
      out.push(
        `| ${image.name} | ${b.round} | ${b.prefetch?.chunks ?? "–"} | ${b.prefetch ? b.prefetch.seconds.toFixed(1) : "–"} | ${sec(b.diskMs)} | ${b.http.chunksBeforeDisk} | ${b.http.chunksAfterDisk} | ${sec(b.http.lastChunkEndMs)} | ${sec(b.wholeMs)} |`,
      );
    }
  }
  out.push("");

  out.push("## Observations (computed)", "");
  for (const image of images) {
    const rec = image.recordBoot;
    const cold = of(image.name, "cold");
    const pre = of(image.name, "prefetch");
    if (image.readBytes && rec.read) {
      out.push(
        `- ${image.name}: /sbin/init read ${image.readFiles} files, ${mib(image.readBytes)} MiB of file data; with the metadata and busybox that touched ${rec.read.chunks} chunks of 256 KiB, ${mib(rec.read.bytes)} MiB (${(rec.read.bytes / image.readBytes).toFixed(1)}× the file bytes).`,
      );
    }
    if (rec.read && cold.length) {
      const fetched = median(cold.map((b) => b.coverage.cached.chunks));
      out.push(
        `- ${image.name}: the guest read ${rec.read.chunks} distinct chunks; a cold on-demand boot fetched ${fetched}: read-ahead added ${fetched - rec.read.chunks} (${pct(fetched - rec.read.chunks, rec.read.chunks)}) that the guest never read.`,
      );
    }
    if (pre.length) {
      const margins = pre.map((b) =>
        b.prefetch ? (b.diskMs / 1000 - b.prefetch.seconds).toFixed(1) : "?",
      );
      out.push(
        `- ${image.name}: the prefetch list (${pre[0].prefetch?.chunks ?? "?"} chunks) was loaded ${margins.join(", ")} s before the root disk appeared (rounds in order); a prefetch boot still sent ${median(pre.map((b) => b.http.chunksAfterDisk))} chunk requests after that (read-ahead of chunks not in the list).`,
      );
    }
    const dups = [...cold, ...pre].filter((b) => b.http?.duplicates > 0);
    if (dups.length) {
      out.push(
        `- ${image.name}: the same chunk was downloaded twice in ${dups.map((b) => `round ${b.round} ${b.kind} (${b.http.duplicates})`).join(", ")}.`,
      );
    }
  }
  for (const t of targets) {
    out.push(
      `- Target on ${t.image}, ${t.label}: ${t.met ? "met" : "missed"} (${t.ratio.toFixed(2)}× of medians, ${t.best.toFixed(2)}× of bests${Number.isNaN(t.bound) ? "" : `; even a local disk gives only ${t.bound.toFixed(2)}×`}).`,
    );
  }
  if (peerNote) out.push(`- ${peerNote}`);
  out.push("");
  return `${out.join("\n")}\n`;
}
