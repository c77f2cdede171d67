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
  /**
   * The origin iPXE scripts and links point at, e.g. `https://boot.example.net`, for an edge behind
   * a proxy or under another host name: http(s), no path or query. Empty or invalid: the origin the
   * request came to (an invalid value is logged once).
   */
  PUBLIC_URL?: string;
  /** The rootfs `/boot.ipxe` boots when its timeout runs out; empty or not bootable: the first. */
  BOOT_MENU_DEFAULT?: string;
  /** Seconds `/boot.ipxe` waits for a choice (default 10; 0 waits for ever). */
  BOOT_MENU_TIMEOUT_SECONDS?: string;
  /**
   * Storage and Cache API operations one request may make (default 50, the Workers Free plan's
   * subrequests per request); the caps of `GET /` `limits` follow from it. See README, deploy.
   */
  REQUEST_OPERATION_BUDGET?: string;
}
