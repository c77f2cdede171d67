#!/usr/bin/env node
// Updates benchmark: what a new version of a real root filesystem costs, built fresh or on top of
// the previous image (`edgeboot image --base`), under each chunking.
//
//   npm run bench:updates
//
// Three versions of a Debian bookworm root (scripts/boot/debian.mjs, mmdebstrap from Debian's
// packages, cached): v1 the boot root, v2 = v1 + one small package (iputils-ping), v3 = v2 with a
// configuration file changed (journald.conf). Each is made into an image twice: fresh
// (`edgeboot image TREE`, reproducible) and on the previous one (`edgeboot image TREE --base`).
// Each series of images is published in turn with fixed:256K, cdc: and casync:, to a directory
// store (`edgeboot publish --out`, for what is uploaded) and to the edge Worker in Miniflare (one
// per series and chunking), and after each publish a client that fetched the previous version
// fetches the new one with its cache warm (`edgeboot fetch --cache-dir`) through the edge, behind a
// proxy that counts the body bytes on the wire (the manifest gzip-encoded, as the Worker sends it
// to a client that asks). Beside them: the bytes of the files that changed and the growth of one
// casync directory store (`casync make --store=S vN.caidx TREE`).
// Writes bench/results/updates.md. Not a test: it asserts nothing.
//
// Environment: EDGEBOOT_BENCH_CACHE (scratch directory), EDGEBOOT_BENCH_NO_BUILD=1 (use dist/cli).
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DEBIAN_VARIANTS, prepareDebianTree, SOURCE_DATE_EPOCH } from "../scripts/boot/debian.mjs";
import { obtainKernel } from "../scripts/boot/kernel.mjs";
import { stableUuid } from "../scripts/boot/tools.mjs";
import { bundleWorker } from "../scripts/worker-bundle.mjs";
import { startProxy } from "../testing/http-proxy.mjs";
import { startEdgeWorker } from "../testing/workers.mjs";
import { buildCli, CACHE, log, ROOT, run } from "./lib/run.mjs";
import { runScript, saveReport } from "./lib/script.mjs";
import { chunkFiles } from "./lib/stores.mjs";
import { changedFiles, differingBlocks } from "./lib/updates-diff.mjs";
import { renderUpdates } from "./lib/updates-report.mjs";

const WORK = join(CACHE, "updates");
const RESULTS = join(ROOT, "bench", "results", "updates.md");
export const CHUNKINGS = ["fixed:256K", "cdc:16K/64K/256K", "casync:16K/64K/256K"];
export const MODES = ["fresh", "base"];
/** The configuration change of v3: journald keeps its logs in memory only. */
const CONFIG_FILE = "etc/systemd/journald.conf";
const HOSTNAME = "debian-a";
/** The publish token of the edge Worker each series is published to. */
const TOKEN = "edgeboot-bench-updates-token";
/** The path of manifest `id` on an edge (src/format/api.ts's EDGE_API.manifest.path). */
const manifestPathOf = (/** @type {string} */ id) => `/v1/manifests/${id}`;

/**
 * The CLI this run drives: a copy of dist/cli taken at the start (inside the repository, so its
 * npm packages resolve), which a rebuild of dist/cli during the run cannot change.
 */
const CLI_DIR = join(ROOT, "dist", `bench-updates-cli-${process.pid}`);
const CLI = join(CLI_DIR, "edgeboot.js");

async function main() {
  buildCli();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  cpSync(join(ROOT, "dist", "cli"), CLI_DIR, { recursive: true });
  process.once("exit", () => rmSync(CLI_DIR, { recursive: true, force: true }));
  const kernel = await obtainKernel({ log });

  log("trees: v1 (the boot root), v2 (+ iputils-ping), v3 (v2 + journald.conf changed)");
  const v1 = await prepareDebianTree({
    ...DEBIAN_VARIANTS["debian-a"],
    kernel,
    dir: join(WORK, "tree-v1"),
    log,
  });
  const v2 = await prepareDebianTree({
    ...DEBIAN_VARIANTS["debian-b"],
    hostname: HOSTNAME,
    kernel,
    dir: join(WORK, "tree-v2"),
    log,
  });
  const tree3 = join(WORK, "tree-v3");
  await run(["cp", "-a", "--reflink=auto", `${v2.tree}/.`, tree3]);
  const conf = join(tree3, CONFIG_FILE);
  writeFileSync(conf, readFileSync(conf, "utf8").replace("#Storage=auto", "Storage=volatile"));
  await run(["touch", "-d", `@${SOURCE_DATE_EPOCH + 86_400}`, conf]);
  const trees = [v1.tree, v2.tree, tree3];
  const versions = [
    { name: "v1", what: `the boot root (${v1.packages.length} packages)` },
    { name: "v2", what: "v1 + iputils-ping (one small package)" },
    { name: "v3", what: `v2 with ${CONFIG_FILE} changed (Storage=volatile)` },
  ];

  log("changed files and casync's directory store");
  const casyncStore = join(WORK, "casync-dir", "store");
  mkdirSync(casyncStore, { recursive: true });
  let storeBefore = 0;
  for (const [i, version] of versions.entries()) {
    if (i > 0) version.changed = await changedFiles(trees[i - 1], trees[i]);
    const index = join(WORK, "casync-dir", `${version.name}.caidx`);
    const made = await run(["casync", "make", `--store=${casyncStore}`, index, trees[i]]);
    const storeBytes = chunkFiles(casyncStore, "casync").bytes;
    const indexBytes = statSync(index).size;
    version.casync = { growth: storeBytes - storeBefore, indexBytes, seconds: made.seconds };
    storeBefore = storeBytes;
  }

  log("images: fresh and --base");
  const uuid = stableUuid(`edgeboot-debian-${HOSTNAME}`);
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) };
  /** @type {Record<string, { path: string, seconds: number, bytes: number, blocks?: number, stdout: string }[]>} */
  const images = { fresh: [], base: [] };
  for (const mode of MODES) {
    for (const [i, version] of versions.entries()) {
      const path = join(WORK, `${mode}-${version.name}.img`);
      if (mode === "base" && i === 0) {
        images.base.push({ ...images.fresh[0], path });
        cpSync(images.fresh[0].path, path);
        continue;
      }
      const argv = ["node", CLI, "image", trees[i], "-o", path];
      argv.push("--label", HOSTNAME, "--uuid", uuid);
      if (mode === "base") argv.push("--base", images.base[i - 1].path);
      const made = await run(argv, { env });
      const image = { path, seconds: made.seconds, bytes: 0, stdout: made.stdout.trim() };
      image.bytes = Number(/: ([\d.]+) MiB ext4/.exec(made.stdout)?.[1]) * 2 ** 20;
      if (i > 0) image.blocks = await differingBlocks(images[mode][i - 1].path, path);
      images[mode].push(image);
    }
  }
  await Promise.all([v1.remove(), v2.remove(), run(["rm", "-rf", tree3])]);

  log("publish each series in turn, and fetch each version with the previous one's cache");
  const workerDir = join(WORK, "worker");
  await bundleWorker({ entry: "src/edge/index.ts", outdir: workerDir, cwd: ROOT });
  const steps = [];
  for (const chunking of CHUNKINGS) {
    for (const mode of MODES) {
      const slug = `${mode}-${chunking.replace(/[:/]/g, "_")}`;
      const store = join(WORK, "stores", slug);
      const cache = join(WORK, "caches", slug);
      const edge = await startEdgeWorker(join(workerDir, "edge.js"), { token: TOKEN });
      const wire = await startProxy({ upstream: edge.url });
      let chunksBefore = new Map();
      try {
        for (const [i, version] of versions.entries()) {
          const image = images[mode][i].path;
          const argv = ["node", CLI, "publish", image, "--name", "debian", "--chunking", chunking];
          await run([...argv, "--out", store]);
          const onEdge = await run([...argv, "--edge", edge.url], {
            env: { ...process.env, EDGEBOOT_TOKEN: TOKEN },
          });
          const manifestId = /manifest\s+([0-9a-f]{64})/.exec(onEdge.stdout)?.[1] ?? "";
          const manifestPath = manifestPathOf(manifestId);
          const head = await fetch(`${edge.url}${manifestPath}`, { method: "HEAD" });
          const manifestBytes = Number(head.headers.get("Content-Length"));
          const chunks = chunkFiles(store, "edgeboot").files;
          let newBytes = 0;
          for (const [id, size] of chunks) if (!chunksBefore.has(id)) newBytes += size;
          const newChunks = chunks.size - chunksBefore.size;
          chunksBefore = chunks;
          const mark = wire.mark();
          const out = join(WORK, "fetched.img");
          const fetched = await run([
            ...["node", CLI, "fetch", wire.url, "debian", "-o", out],
            ...["--cache-dir", cache],
          ]);
          rmSync(out, { force: true });
          const sent = wire.requests.slice(mark.index);
          const bytesOf = (/** @type {typeof sent} */ list) =>
            list.reduce((sum, r) => sum + r.bytes, 0);
          const manifestReads = sent.filter((r) => r.path === manifestPath);
          const summary = /chunks\s+\d+: (\d+) downloaded[\s\S]*manifest\s+([0-9a-f]{64})/.exec(
            fetched.stdout,
          );
          if (summary?.[2] !== manifestId || manifestReads.length !== 1) {
            throw new Error(
              `edgeboot fetch did not fetch manifest ${manifestId} once:\n${fetched.stdout}`,
            );
          }
          const refRead = sent.find((r) => r.path.startsWith("/v1/rootfs/"));
          steps.push({
            chunking,
            mode,
            version: version.name,
            newChunks,
            newBytes,
            manifestBytes,
            manifestSentBytes: bytesOf(manifestReads),
            refBytes: refRead ? refRead.bytes : 0,
            fetchedChunks: Number(summary[1]),
            fetchedBytes: bytesOf(sent),
            requests: sent.length,
          });
          log(
            `${chunking} ${mode} ${version.name}: ${newChunks} new chunks, fetched ${bytesOf(sent)} bytes (manifest ${bytesOf(manifestReads)} of ${manifestBytes})`,
          );
        }
      } finally {
        await wire.close();
        await edge.close();
      }
      rmSync(store, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  }
  for (const mode of MODES) for (const image of images[mode]) rmSync(image.path, { force: true });

  const report = renderUpdates({ versions, images, steps, chunkings: CHUNKINGS });
  saveReport("bench/updates.mjs", RESULTS, report);
}

if (!existsSync(join(ROOT, "node_modules"))) throw new Error("run npm ci first");
await runScript("bench/updates.mjs", main);
