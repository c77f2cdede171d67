import { execFileSync } from "node:child_process";
import { bundleWorker } from "../../scripts/worker-bundle.mjs";

/**
 * Before the Node tests: build the CLI as users run it (bin/edgeboot.js → dist/cli), and the Worker
 * as one ES module for Miniflare, so end-to-end tests drive the real binary against the real Worker.
 */
export default async function setup(): Promise<void> {
  execFileSync(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
  await bundleWorker({ entry: "src/edge/index.ts", outdir: "dist/test-worker" });
}
