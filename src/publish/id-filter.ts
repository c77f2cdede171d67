import { fromHex } from "../format/hex.js";

/** Bits of the filter: 2^27 (16 MiB). */
const BITS_LOG2 = 27;
/** Bit positions per id. */
const PROBES = 7;

/**
 * A Bloom filter of object ids in a fixed 16 MiB, whatever the number of ids. Ids are SHA-256
 * digests, uniformly random already, so each probe is just 27 bits of the id. `has` never misses
 * an id that was added; it wrongly answers yes for fewer than 1 in 1,000 others up to about
 * 7 million ids (a 1.7 TB image store at 256 KiB chunks). A wrong yes only keeps a dead chunk.
 */
export class IdFilter {
  private readonly bits = new Uint32Array(2 ** (BITS_LOG2 - 5));
  size = 0;

  add(id: string): void {
    for (const bit of positions(id))
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] as number) | (1 << (bit & 31));
    this.size++;
  }

  has(id: string): boolean {
    for (const bit of positions(id)) {
      if (((this.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

function positions(id: string): number[] {
  const bytes = fromHex(id);
  const out: number[] = [];
  for (let probe = 0; probe < PROBES; probe++) {
    const at = probe * 4;
    const word =
      ((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number);
    out.push((word >>> 0) >>> (32 - BITS_LOG2));
  }
  return out;
}
