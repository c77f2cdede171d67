// Workers run locally in workerd through Miniflare's Node API, on a loopback port, as the tests,
// the benchmarks and the boot demo run the edge (and the benchmarks' peer Workers): the
// compatibility date is the deployed one, read from wrangler.toml.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";
import { WORKER_MODULE_RULES } from "../scripts/worker-bundle.mjs";

/** The compatibility date of the deployed Worker (wrangler.toml's `compatibility_date`). */
export const COMPATIBILITY_DATE = compatibilityDate(
  readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8"),
);

/**
 * The top-level `compatibility_date = "YYYY-MM-DD"` of a wrangler.toml.
 * @param {string} toml
 * @returns {string}
 */
export function compatibilityDate(toml) {
  const match = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"\s*$/m.exec(toml);
  if (!match?.[1]) {
    throw new Error('wrangler.toml has no line compatibility_date = "YYYY-MM-DD": add it back');
  }
  return match[1];
}

/**
 * A Worker running in workerd.
 * @typedef {object} LocalWorker
 * @property {string} url  its entry URL, e.g. http://127.0.0.1:41234 (no trailing slash)
 * @property {Miniflare} mf
 * @property {() => Promise<void>} close stops workerd
 */

/**
 * Miniflare options a caller may add or override (bindings, r2Persist, cache, cachePersist,
 * unsafeDirectSockets, ...).
 * @typedef {Omit<Partial<import("miniflare").SharedOptions & import("miniflare").WorkerOptions>,
 *   "modules" | "script" | "scriptPath">} WorkerExtras
 */

/**
 * Starts the Worker module at `scriptPath` (an esbuild bundle, its .wasm imports beside it as
 * compiled modules) on 127.0.0.1 at a free port, with the R2 bucket CHUNKS (in memory unless
 * `r2Persist` says where) and COMPATIBILITY_DATE; `extras` are added to those options.
 * @param {string} scriptPath
 * @param {WorkerExtras} [extras]
 * @returns {Promise<LocalWorker>}
 */
export async function startWorker(scriptPath, extras = {}) {
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    // Module paths are taken relative to this root, which must hold the bundle (default: cwd).
    modulesRoot: dirname(scriptPath),
    modulesRules: WORKER_MODULE_RULES,
    compatibilityDate: COMPATIBILITY_DATE,
    r2Buckets: ["CHUNKS"],
    host: "127.0.0.1",
    port: 0,
    ...extras,
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, "");
    return { url, mf, close: () => mf.dispose() };
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
}

/**
 * A local edge: the edge Worker's bundle, with a fresh R2 bucket.
 * @typedef {LocalWorker & { token: string }} LocalEdge
 */

/**
 * Starts the edge Worker bundled at `scriptPath` (scripts/worker-bundle.mjs) with publish token
 * `token` and Worker `vars`, as wrangler.toml's [vars] would set them (PUBLIC_URL,
 * REQUEST_OPERATION_BUDGET, ...).
 * @param {string} scriptPath
 * @param {{ token: string, vars?: Record<string, string> }} options
 * @returns {Promise<LocalEdge>}
 */
export async function startEdgeWorker(scriptPath, { token, vars = {} }) {
  const worker = await startWorker(scriptPath, { bindings: { ...vars, PUBLISH_TOKEN: token } });
  return { ...worker, token };
}
