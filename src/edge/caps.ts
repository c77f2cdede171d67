import type { EdgeLimits } from "../format/api.js";
import { MAX_MISSING_QUERY_IDS } from "../format/limits.js";
import { chunkAt } from "../format/manifest.js";

/**
 * Operations of a manifest check besides its chunks' HEADs: the complete manifest's HEAD, the
 * pending manifest (stored, read or HEAD), its progress read, then either the progress written
 * or, on completion, the pending manifest read back, the complete one stored and the pending
 * manifest and progress deleted (`manifest-check.ts`).
 */
export const CHECK_FIXED_OPERATIONS = 7;

/**
 * Operations of an assembled response (`/image`, boot files) besides its chunks: the ref (by
 * name) and the manifest (cache lookup, then storage and cache fill; `readManifest`).
 */
export const ASSEMBLY_FIXED_OPERATIONS = 4;

/** Operations each chunk of an assembled response may take: cache lookup, storage read, cache fill. */
export const OPERATIONS_PER_ASSEMBLED_CHUNK = 3;

/**
 * What one request may ask of this edge (`EdgeLimits`, the wire type in format/api.ts), from its
 * per-request operation budget of `budget` (`REQUEST_OPERATION_BUDGET`): each cap is the budget
 * less the fixed operations of its route, divided by what each item costs (at least 1), so that
 * no request of a client that respects them can reach the budget. `GET /` advertises them under
 * `limits`; the publisher reads them from there.
 */
export function edgeCaps(budget: number): EdgeLimits {
  return {
    operationBudget: budget,
    missingIdsPerRequest: Math.max(1, Math.min(MAX_MISSING_QUERY_IDS, budget)),
    manifestChunksPerCheck: Math.max(1, budget - CHECK_FIXED_OPERATIONS),
    chunksPerResponse: Math.max(
      1,
      Math.floor((budget - ASSEMBLY_FIXED_OPERATIONS) / OPERATIONS_PER_ASSEMBLED_CHUNK),
    ),
  };
}

/** Why bytes `start..end` of content cut at `offsets` may not be one response, if they may not. */
export interface ChunkSpanProblem {
  /** How many chunks the bytes span. */
  chunks: number;
  /** The last byte a response starting at `start` may end at. */
  lastAllowed: number;
}

/**
 * Whether bytes `start..end` (inclusive, within the content) span more than `cap` chunks of the
 * content cut at `offsets` (`chunkOffsets`), and if so the furthest end allowed from `start`.
 */
export function chunkSpanProblem(
  offsets: readonly number[],
  start: number,
  end: number,
  cap: number,
): ChunkSpanProblem | undefined {
  const first = chunkAt(offsets, start);
  const last = chunkAt(offsets, end);
  if (first < 0 || last < 0 || last - first + 1 <= cap) return undefined;
  return { chunks: last - first + 1, lastAllowed: (offsets[first + cap] as number) - 1 };
}
