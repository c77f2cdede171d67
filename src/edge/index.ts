import { createApp } from "./app.js";
import { r2Storage } from "./storage/r2.js";

export type { Env } from "./env.js";

/** The edge Worker: the app on the R2 bucket bound as CHUNKS and the data center's cache. */
export default createApp({ storage: (env) => r2Storage(env.CHUNKS) });
