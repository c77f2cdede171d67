// Shared helpers of the benchmarks: paths, logging, running a command under /usr/bin/time, the
// machine description, --cpu-prof summaries, formatting, and writing a results file that keeps
// its hand-written notes.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CACHE = process.env.EDGEBOOT_BENCH_CACHE ?? join(tmpdir(), "edgeboot-bench");
export const REPEAT = Math.max(1, Number(process.env.EDGEBOOT_BENCH_REPEAT ?? 3));
export const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

const started = performance.now();
export const elapsed = () => (performance.now() - started) / 1000;
export const log = (line) =>
  process.stderr.write(`[bench ${elapsed().toFixed(0).padStart(3)}s] ${line}\n`);

/** The marker below which a results file holds hand-written notes that a rerun keeps. */
export const notesMarker = (script) =>
  `<!-- hand-written notes: ${script} keeps everything below this line -->`;

export function bash(script, what) {
  // No pipefail: `head -c` closes the pipe early and tar dies of SIGPIPE, as intended.
  const result = spawnSync("bash", ["-c", script], { stdio: ["ignore", "inherit", "pipe"] });
  if (result.status !== 0) {
    throw new Error(
      `${what} failed (${result.status}): ${result.stderr.toString().slice(0, 2000)}`,
    );
  }
}

export function sha256File(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export const hasCommand = (name) => spawnSync("bash", ["-c", `command -v ${name}`]).status === 0;

/**
 * Makes sure `command` exists, installing Debian package `pkg` when running as root outside CI.
 * Returns a note saying why it is missing, or "" when it is there.
 */
export function ensureTool(command, pkg) {
  let note = "";
  if (!hasCommand(command)) {
    const root = process.getuid?.() === 0;
    if (root && !process.env.CI) {
      log(`${command} is missing: apt-get install -y ${pkg}`);
      const r = spawnSync("apt-get", ["install", "-y", pkg], { stdio: "inherit" });
      if (r.status !== 0) note = `apt-get install -y ${pkg} failed: peer skipped.`;
    } else {
      note = `${command} is not installed (\`sudo apt-get install -y ${pkg}\`): peer skipped.`;
    }
  }
  return hasCommand(command) ? "" : note;
}

/** Builds the CLI into dist/cli unless EDGEBOOT_BENCH_NO_BUILD=1. */
export function buildCli() {
  if (process.env.EDGEBOOT_BENCH_NO_BUILD === "1") return;
  log("building the CLI: node scripts/build-cli.mjs");
  const b = spawnSync("node", ["scripts/build-cli.mjs"], { cwd: ROOT, stdio: "inherit" });
  if (b.status !== 0) throw new Error("node scripts/build-cli.mjs failed");
}

let timeFiles = 0;

/**
 * Runs argv, timing wall clock here and CPU / peak RSS with /usr/bin/time (user and sys include
 * the children the command waits for; peak RSS is the largest single process).
 */
export function run(argv, { cwd = ROOT, env } = {}) {
  const timeFile = join(CACHE, `time-${process.pid}-${++timeFiles}.txt`);
  const full = TIME ? [TIME, "-f", "%U %S %M", "-o", timeFile, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const begin = performance.now();
    const child = spawn(full[0], full.slice(1), {
      cwd,
      env: env ? { ...process.env, ...env } : process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - begin) / 1000;
      if (code !== 0) {
        rmSync(timeFile, { force: true });
        reject(new Error(`${argv.join(" ")} exited ${code}:\n${stderr}${stdout}`));
        return;
      }
      let cpu;
      if (TIME) {
        const [user, sys, rssKb] = readFileSync(timeFile, "utf8")
          .trim()
          .split("\n")
          .at(-1)
          .split(" ");
        rmSync(timeFile, { force: true });
        cpu = { user: Number(user), sys: Number(sys), rssMb: Number(rssKb) / 1024 };
      }
      resolve({ seconds, cpu, stdout, stderr });
    });
  });
}

export function du(path, apparent) {
  const args = apparent ? ["-sb", path] : ["-s", "--block-size=1", path];
  return Number(spawnSync("du", args).stdout.toString().split("\t")[0]);
}

/** argv as a shell command line, with the cache directory written as $CACHE. */
export function shell(argv) {
  return argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(" ")
    .replaceAll(CACHE, "$CACHE");
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Per thread of a --cpu-prof run: profiled and busy seconds, and the top self-time functions. */
export function summarizeProfiles(dir, top = 5) {
  const threads = [];
  for (const file of readdirSync(dir).sort()) {
    const thread = Number(file.split(".")[4]);
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    let total = 0;
    for (const [index, id] of profile.samples.entries()) {
      const { functionName, url, lineNumber } = nodes.get(id).callFrame;
      const where = url ? ` (${url.split("/").at(-1)}:${lineNumber + 1})` : "";
      const name = `${functionName || "anonymous"}${where}`;
      const dt = profile.timeDeltas[index] / 1e6;
      self.set(name, (self.get(name) ?? 0) + dt);
      total += dt;
    }
    const idle = self.get("(idle)") ?? 0;
    self.delete("(idle)");
    const ranked = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
    threads.push({ thread, total, busy: total - idle, top: ranked });
  }
  return threads;
}

// ---------------------------------------------------------------------------------------------
// Report helpers

export const mb = (bytes) => (bytes / 1e6).toFixed(1);
export const pct = (part, whole) => `${((100 * part) / whole).toFixed(2)}%`;
export const x = (a, b) => (b ? `${(a / b).toFixed(2)}×` : "–");

/** The date, machine and versions lines of a results file (`versions`: peers after casync). */
export function machineLines(versions = []) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown";
  const casync = spawnSync("casync", ["--version"]).stdout?.toString().trim() || "not installed";
  const git = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT })
    .stdout.toString()
    .trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "src"], { cwd: ROOT })
    .stdout.toString()
    .trim();
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${availableParallelism()} cores (nproc), ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory`,
    `- ${[`Node ${process.version}`, casync, ...versions, `edgeboot ${git}${dirty ? " with uncommitted changes in src/" : ""}`].join("; ")}`,
  ];
}

/** The filesystem type of `path` (df --output=fstype). */
export function fsType(path) {
  return spawnSync("bash", ["-c", `df --output=fstype ${path} | tail -1`])
    .stdout.toString()
    .trim();
}

/** Writes `report` to `path`, keeping whatever a previous version held below `marker`. */
export function writeResults(path, report, marker) {
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  const notes = previous.indexOf(marker);
  writeFileSync(path, notes >= 0 ? `${report}\n${previous.slice(notes)}` : report);
}

/** Markdown lines for profiled runs (from summarizeProfiles): per thread, busy time and top functions. */
export function profileLines(profiles) {
  const out = [];
  for (const p of profiles) {
    out.push(`- ${p.label}: ${p.seconds.toFixed(2)} s wall under the profiler`);
    for (const t of p.threads) {
      out.push(
        `  - thread ${t.thread}: busy ${t.busy.toFixed(2)} of ${t.total.toFixed(2)} s; ` +
          t.top.map(([name, sec]) => `${name} ${sec.toFixed(2)} s`).join(", "),
      );
    }
  }
  return out;
}
