// A local edge for the boot demo: the real Worker, bundled by esbuild as test/cli/global-setup.ts
// does, run in workerd through Miniflare's Node API on a loopback port, with an in-memory R2.
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorker, WORKER_MODULE_RULES } from "../worker-bundle.mjs";
import { REPO } from "./cli.mjs";
import { run } from "./tools.mjs";

/**
 * Builds the CLI (dist/cli, what bin/edgeboot.js runs) and the Worker bundle into `workerDir`.
 * @param {string} workerDir
 * @returns {Promise<string>} the Worker bundle's path
 */
export async function buildAll(workerDir) {
  await run(process.execPath, [join(REPO, "scripts", "build-cli.mjs")], { cwd: REPO });
  await bundleWorker({ entry: "src/edge/index.ts", outdir: workerDir, cwd: REPO });
  return join(workerDir, "edge.js");
}

/**
 * A running local edge.
 * @typedef {object} LocalEdge
 * @property {string} url    e.g. http://127.0.0.1:41234
 * @property {string} token  its publish token
 * @property {() => Promise<void>} close
 */

/**
 * Starts the Worker bundle at `scriptPath` with a fresh R2 bucket.
 * @param {string} scriptPath
 * @param {string} [token]
 * @param {Record<string, string>} [vars] Worker vars, as wrangler.toml's [vars] would set them
 *   (PUBLIC_URL, BOOT_MENU_DEFAULT, BOOT_MENU_TIMEOUT_SECONDS)
 * @returns {Promise<LocalEdge>}
 */
export async function startLocalEdge(scriptPath, token = "edgeboot-boot-demo-token", vars = {}) {
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    // Module paths are taken relative to this root, which must hold the bundle (default: cwd).
    modulesRoot: dirname(scriptPath),
    modulesRules: WORKER_MODULE_RULES,
    compatibilityDate: "2026-04-26",
    r2Buckets: ["CHUNKS"],
    bindings: { ...vars, PUBLISH_TOKEN: token },
    host: "127.0.0.1",
    port: 0,
  });
  let url;
  try {
    url = (await mf.ready).toString().replace(/\/$/, "");
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
  return { url, token, close: () => mf.dispose() };
}
