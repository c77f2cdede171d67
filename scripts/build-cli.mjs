// Bundles the Node CLI (src/cli) into dist/cli/edgeboot.js; dependencies stay in node_modules.
import { build } from "esbuild";

await build({
  entryPoints: { edgeboot: "src/cli/main.ts" },
  outdir: "dist/cli",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
