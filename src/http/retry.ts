/** Whether an HTTP status is worth retrying: 429 and every 5xx. Other 4xx never are. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * How long to wait before retry number `attempt` (1 for the first retry): `Retry-After` seconds
 * when the server sent a usable one, else `baseMs` doubled each attempt; capped at 30 s, with
 * jitter (half to all of it) so that many clients do not retry in step.
 */
export function backoffDelay(
  attempt: number,
  baseMs = 200,
  retryAfter?: string | string[] | null,
): number {
  const hinted = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) * 1000;
  const delay = Number.isFinite(hinted) && hinted > 0 ? hinted : baseMs * 2 ** (attempt - 1);
  return Math.min(delay, 30_000) * (0.5 + Math.random() / 2);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
