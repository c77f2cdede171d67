// A local edge for the boot demo: the real Worker, bundled by esbuild as test/cli/global-setup.ts
// does, run in workerd through Miniflare's Node API on a loopback port, with an in-memory R2.
import { join } from "node:path";
import { startEdgeWorker } from "../../testing/workers.mjs";
import { bundleWorker } from "../worker-bundle.mjs";
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
 * Starts the Worker bundle at `scriptPath` with a fresh R2 bucket (testing/workers.mjs).
 * @param {string} scriptPath
 * @param {string} [token]
 * @param {Record<string, string>} [vars] Worker vars, as wrangler.toml's [vars] would set them
 *   (PUBLIC_URL, BOOT_MENU_DEFAULT, BOOT_MENU_TIMEOUT_SECONDS)
 * @returns {Promise<import("../../testing/workers.mjs").LocalEdge>}
 */
export function startLocalEdge(scriptPath, token = "edgeboot-boot-demo-token", vars = {}) {
  return startEdgeWorker(scriptPath, { token, vars });
}
