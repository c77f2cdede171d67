/** The part of the Cache API the edge uses; `caches.default` is one. */
export interface ResponseCache {
  match(request: Request): Promise<Response | undefined>;
  put(request: Request, response: Response): Promise<void>;
  delete(request: Request): Promise<boolean>;
}

/** The data center's cache (`caches.default`). On `*.workers.dev` it stores nothing: use a custom domain. */
export const defaultCache = (): ResponseCache => caches.default;
