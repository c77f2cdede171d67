// Types of the Worker under test, as `cloudflare:workers` sees it in vitest-pool-workers: its
// bindings are the Worker's own Env (src/edge/env.ts).
declare namespace Cloudflare {
  type EdgeEnv = import("../../src/edge/env.js").Env;
  interface Env extends EdgeEnv {}
  interface GlobalProps {
    mainModule: typeof import("../../src/edge/index.js");
  }
}
