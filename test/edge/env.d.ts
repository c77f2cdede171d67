// Types of the Worker under test, as `cloudflare:workers` sees it in vitest-pool-workers.
// Keep Env in step with the Env of src/edge/env.ts.
declare namespace Cloudflare {
  interface Env {
    CHUNKS: R2Bucket;
    PUBLISH_TOKEN?: string;
    IMAGE_MAX_RESPONSE_BYTES?: string;
    PUBLIC_URL?: string;
    BOOT_MENU_DEFAULT?: string;
    BOOT_MENU_TIMEOUT_SECONDS?: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../../src/edge/index.js");
  }
}
