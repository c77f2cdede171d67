// The Worker bundled for Miniflare as wrangler bundles it for deploys: one ES module, with the
// .wasm files it imports copied beside it and loaded as compiled WebAssembly modules.
import { build } from "esbuild";

/**
 * Miniflare's module rule for the bundle: imported .wasm files are compiled modules.
 * @type {{ type: "CompiledWasm", include: string[] }[]}
 */
export const WORKER_MODULE_RULES = [{ type: "CompiledWasm", include: ["**/*.wasm"] }];

/**
 * Bundles `entry` (relative to `cwd`) into `outdir`/edge.js, its .wasm imports beside it.
 * @param {{ entry: string, outdir: string, cwd?: string }} options
 * @returns {Promise<void>}
 */
export async function bundleWorker({ entry, outdir, cwd = process.cwd() }) {
  await build({
    absWorkingDir: cwd,
    entryPoints: { edge: entry },
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    loader: { ".wasm": "copy" },
    logLevel: "warning",
  });
}
