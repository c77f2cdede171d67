// Bundles the Node CLI (src/cli) into dist/cli/edgeboot.js, with the npm packages it uses but the
// zstd binding (a native addon: it stays in node_modules and is loaded at run time). One file to
// read and compile rather than about 140 modules found and compiled one by one: that is most of
// what `edgeboot nbd` costs to start when it runs in a booting machine under emulation (bench:boot's
// Debian rows). dist/cli/cpu-profile.js is the CPU profiler a fetcher can be started under
// (`node --import`, src/cli/cpu-profile.ts).
import { build } from "esbuild";

/** Loaded from node_modules at run time: the native addon and the packages that load it. */
const RUNTIME_PACKAGES = ["@toondepauw/node-zstd"];

/**
 * What `import ... from "undici"` gets: the dispatchers and errors, with the request API on the
 * Dispatcher prototype, as undici's index.js sets them up, without the rest that index loads
 * (fetch, WebSocket, EventSource, the caches, the mocks: 110 modules where these take 31). An
 * import of anything else from "undici" fails the build (esbuild: no matching export): add it here.
 */
const UNDICI_CLIENT = `
import Dispatcher from "undici/lib/dispatcher/dispatcher.js";
import api from "undici/lib/api/index.js";
Object.assign(Dispatcher.prototype, api);
export { Dispatcher };
export { default as Agent } from "undici/lib/dispatcher/agent.js";
export { default as Client } from "undici/lib/dispatcher/client.js";
export { default as Pool } from "undici/lib/dispatcher/pool.js";
export { default as errors } from "undici/lib/core/errors.js";
`;

/** @type {import("esbuild").Plugin} */
const undiciClient = {
  name: "undici-client",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: "undici", namespace: "undici-client" }));
    b.onLoad({ filter: /.*/, namespace: "undici-client" }, () => ({
      contents: UNDICI_CLIENT,
      resolveDir: process.cwd(),
      loader: "js",
    }));
  },
};

await build({
  entryPoints: { edgeboot: "src/cli/main.ts", "cpu-profile": "src/cli/cpu-profile.ts" },
  outdir: "dist/cli",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  external: RUNTIME_PACKAGES,
  plugins: [undiciClient],
  // The bundled CommonJS packages require Node's own modules.
  banner: {
    js: 'import { createRequire as __edgebootCreateRequire } from "node:module";\nconst require = __edgebootCreateRequire(import.meta.url);',
  },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  logLevel: "warning",
});
