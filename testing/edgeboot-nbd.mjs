// `edgeboot nbd` as a child process on a loopback port, as the tests, the benchmarks and the boot
// demo run it: started from the built CLI (bin/edgeboot.js → dist/cli), ready once it prints the
// nbd:// URL it listens on.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root (testing/..). */
const REPO = fileURLToPath(new URL("..", import.meta.url));

/** How long a SIGTERM'd server has to exit before it gets SIGKILL, in ms. */
const KILL_AFTER_MS = 5000;

/**
 * A running `edgeboot nbd`.
 * @typedef {object} NbdProcess
 * @property {import("node:child_process").ChildProcess} child
 * @property {string} host  where it listens: always 127.0.0.1
 * @property {number} port  the port it printed
 * @property {string[]} argv the command, as run from the repository root
 *   (`node bin/edgeboot.js nbd EDGE --listen 127.0.0.1:0 …`)
 * @property {() => string} stderr everything it has logged so far
 * @property {() => Promise<void>} close stops it (SIGTERM, then SIGKILL after 5 s) and waits
 */

/**
 * Starts `edgeboot nbd EDGE --listen 127.0.0.1:0` with `--cache-dir` and `--record` when given,
 * then `args`, and waits for the port it prints; rejects with its stderr if it exits first. It is
 * killed if this process exits before `close()`.
 * @param {{ edge: string, cacheDir?: string, record?: string, args?: string[] }} options
 * @returns {Promise<NbdProcess>}
 */
export function startNbd({ edge, cacheDir, record, args = [] }) {
  if (!existsSync(`${REPO}/dist/cli/edgeboot.js`)) {
    throw new Error("the CLI is not built: run `node scripts/build-cli.mjs` (npm run build:cli)");
  }
  const argv = ["node", "bin/edgeboot.js", "nbd", edge, "--listen", "127.0.0.1:0"];
  if (cacheDir !== undefined) argv.push("--cache-dir", cacheDir);
  if (record !== undefined) argv.push("--record", record);
  argv.push(...args);
  const child = spawn(process.execPath, argv.slice(1), {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (/** @type {string} */ d) => {
    stderr += d;
  });
  const close = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (/** @type {string} */ d) => {
      stdout += d;
      const match = /nbd:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (match) {
        const port = Number(match[1]);
        resolve({ child, host: "127.0.0.1", port, argv, stderr: () => stderr, close });
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      reject(new Error(`edgeboot nbd exited (${signal ?? code}) before listening: ${stderr}`));
    });
  });
}
