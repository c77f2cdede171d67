import { execFileSync } from "node:child_process";
import { build } from "esbuild";

/**
 * Before the Node tests: build the CLI as users run it (bin/edgeboot.js → dist/cli), and the Worker
 * as one ES module for Miniflare, so end-to-end tests drive the real binary against the real Worker.
 */
export default async function setup(): Promise<void> {
  execFileSync(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
  await build({
    entryPoints: { edge: "src/edge/index.ts" },
    outdir: "dist/test-worker",
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    logLevel: "warning",
  });
}
