import { createApp } from "./app.js";
import { r2Storage } from "./storage/r2.js";

/** Bindings and secrets of the edge Worker (see wrangler.toml). */
export interface Env {
  /** The R2 bucket holding chunks/, manifests/ and refs/. */
  CHUNKS: R2Bucket;
  /** Bearer token for writes; `wrangler secret put PUBLISH_TOKEN`. Unset: every write is refused. */
  PUBLISH_TOKEN?: string;
  /**
   * The most bytes one `/image` response carries (default 256 MiB): assembling an image costs CPU
   * in proportion to its bytes, and a response cut off by the CPU limit is worse than a clear 416.
   */
  IMAGE_MAX_RESPONSE_BYTES?: string;
}

export default createApp({ storage: (env) => r2Storage(env.CHUNKS) });
