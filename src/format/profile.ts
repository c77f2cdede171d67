import { FormatError } from "./errors.js";
import { isObjectId, isRootfsName } from "./ids.js";
import { chunkAt } from "./manifest.js";

/** What one image's boot read, chunk by chunk, in the order it first read them. */
export interface BootProfileImage {
  name: string;
  manifest: string;
  /** Byte ranges `[offset, length]` of the chunks read, in first-read order. */
  reads: [number, number][];
}

/**
 * A recorded boot: `edgeboot nbd --record FILE` writes it, `edgeboot publish --profile FILE`
 * turns it into a manifest's prefetch list. Ranges rather than chunk indexes, so a profile
 * recorded on one version of an image still applies to the next (the chunks covering the same
 * bytes are prefetched).
 */
export interface BootProfile {
  format: "edgeboot-boot-profile";
  version: 1;
  images: BootProfileImage[];
}

/** Most reads one profile image may list. */
const MAX_PROFILE_READS = 1_000_000;

/** Parses and checks a boot profile; throws a FormatError naming what is wrong. */
export function parseBootProfile(text: string): BootProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FormatError("a boot profile must be JSON, as `edgeboot nbd --record` writes it");
  }
  const profile = doc as Partial<BootProfile>;
  if (profile?.format !== "edgeboot-boot-profile" || profile.version !== 1) {
    throw new FormatError(
      'not an edgeboot boot profile (format "edgeboot-boot-profile", version 1)',
    );
  }
  if (!Array.isArray(profile.images)) throw new FormatError("a boot profile lists its images");
  for (const image of profile.images) {
    if (!isRootfsName(image?.name) || !isObjectId(image?.manifest)) {
      throw new FormatError("every profile image needs a rootfs name and a manifest id");
    }
    const reads = image.reads as unknown;
    if (!Array.isArray(reads) || reads.length > MAX_PROFILE_READS) {
      throw new FormatError(`profile of "${image.name}" has no list of reads`);
    }
    for (const read of reads as unknown[]) {
      const [offset, length] = Array.isArray(read) ? read : [];
      if (
        !Number.isSafeInteger(offset) ||
        !Number.isSafeInteger(length) ||
        offset < 0 ||
        length < 1
      ) {
        throw new FormatError(`profile of "${image.name}" has a read that is not [offset, length]`);
      }
    }
  }
  return profile as BootProfile;
}

/**
 * The prefetch list of an image with chunk `offsets` (from `chunkOffsets`): the indexes of the
 * chunks that cover the profile's reads, in the order first read, each once.
 */
export function prefetchFromReads(
  reads: readonly [number, number][],
  offsets: readonly number[],
): number[] {
  const size = offsets[offsets.length - 1] ?? 0;
  const seen = new Set<number>();
  const order: number[] = [];
  for (const [offset, length] of reads) {
    if (offset >= size) continue;
    const first = chunkAt(offsets, offset);
    const last = chunkAt(offsets, Math.min(offset + length, size) - 1);
    for (let index = first; index <= last; index++) {
      if (seen.has(index)) continue;
      seen.add(index);
      order.push(index);
    }
  }
  return order;
}
