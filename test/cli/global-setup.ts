import { execFileSync } from "node:child_process";
import { aptInstallLine, missingHostTools } from "../../scripts/boot/tools.mjs";
import { bundleWorker } from "../../scripts/worker-bundle.mjs";

/**
 * Before the Node tests: check that every host tool they drive is here (HOST_TOOLS in
 * scripts/boot/tools.mjs, the list `.ci/run` installs from), failing at once with one line per
 * missing tool rather than letting tests fail one by one on `spawn … ENOENT`; then build the CLI as
 * users run it (bin/edgeboot.js → dist/cli), and the Worker as one ES module for Miniflare, so
 * end-to-end tests drive the real binary against the real Worker.
 */
export default async function setup(): Promise<void> {
  checkHostTools();
  execFileSync(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
  await bundleWorker({ entry: "src/edge/index.ts", outdir: "dist/test-worker" });
}

function checkHostTools(): void {
  const missing = missingHostTools();
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((m) => m.entry.package))];
  const lines = [
    `npm test drives ${missing.length} host tool(s) this machine lacks:`,
    ...missing.map((m) => `  ${m.line}`),
    `all at once: ${aptInstallLine(packages)}`,
    "or run .ci/run, which installs them (as root or with sudo) and then runs every test",
  ];
  throw new Error(lines.join("\n"));
}
