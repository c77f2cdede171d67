import { forEachLimited } from "../../lib/limiter.js";
import type { ObjectStorage } from "./index.js";

/** How many existence checks run at once. */
export const EXISTENCE_CHECKS_IN_FLIGHT = 64;

/**
 * The keys among `keys` that `storage` lacks, in the order given. Checks run with a bounded number
 * in flight, each key once.
 */
export async function missingKeys(
  storage: ObjectStorage,
  keys: readonly string[],
): Promise<string[]> {
  const unique = [...new Set(keys)];
  const absent = new Set<string>();
  await forEachLimited(unique, EXISTENCE_CHECKS_IN_FLIGHT, async (key) => {
    if (!(await storage.head(key))) absent.add(key);
  });
  return unique.filter((key) => absent.has(key));
}
