// The frame every benchmark script (bench/*.mjs) shares: its directories, the tools it cannot
// run without, writing its results file, and how it ends.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { CACHE, ensureTool, log, notesMarker, ROOT, writeResults } from "./run.mjs";

/**
 * The places of benchmark `name`: `runs` its work directory ($CACHE/NAME-runs), `www` what its
 * nginx serves (`runs`/www), `scratch` where it writes what it times ($EDGEBOOT_BENCH_SCRATCH,
 * else /dev/shm/edgeboot-bench-NAME when there is a /dev/shm, else `runs`/scratch) and `results`
 * its results file (bench/results/NAME.md).
 */
export function benchDirs(name) {
  const runs = join(CACHE, `${name}-runs`);
  const scratch =
    process.env.EDGEBOOT_BENCH_SCRATCH ??
    (existsSync("/dev/shm") ? `/dev/shm/edgeboot-bench-${name}` : join(runs, "scratch"));
  const results = join(ROOT, "bench", "results", `${name}.md`);
  return { runs, www: join(runs, "www"), scratch, results };
}

/**
 * Makes sure each [command, Debian package] is installed (see ensureTool); throws saying which are
 * missing and how to install them.
 */
export function ensureTools(tools) {
  const notes = tools.map(([command, pkg]) => ensureTool(command, pkg)).filter(Boolean);
  if (notes.length > 0) throw new Error(notes.join(" "));
}

/**
 * Writes `report` to `path`, keeping what the previous file held below the hand-written notes
 * marker of `script` (e.g. "bench/fetch.mjs"), and prints it.
 */
export function saveReport(script, path, report) {
  mkdirSync(dirname(path), { recursive: true });
  writeResults(path, report, notesMarker(script));
  process.stdout.write(report);
  log(`wrote ${path.startsWith(ROOT) ? relative(ROOT, path) : path}`);
}

/**
 * Runs `main` as `script`, then `cleanups` (latest first, each whatever happened before it), then
 * exits: with code 1 and the error's stack on stderr if `main` threw. Nothing left running (a
 * half-started server) keeps the benchmark alive.
 */
export async function runScript(script, main, cleanups = []) {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`\n${script} failed: ${error instanceof Error ? error.stack : error}\n`);
    process.exitCode = 1;
  } finally {
    for (const step of [...cleanups].reverse()) await step().catch(() => {});
  }
  process.exit();
}
