// Bundles the Node CLI (src/cli) into dist/cli/edgeboot.js; dependencies stay in node_modules.
// dist/cli/cpu-profile.js is the CPU profiler a fetcher can be started under (`node --import`).
import { build } from "esbuild";

await build({
  entryPoints: { edgeboot: "src/cli/main.ts", "cpu-profile": "src/cli/cpu-profile.ts" },
  outdir: "dist/cli",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
