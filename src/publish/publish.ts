import { stat } from "node:fs/promises";
import type { BootFiles } from "../format/boot-files.js";
import type { Codec } from "../format/codec.js";
import { sha256Hex } from "../format/hex.js";
import { rootfsNameProblem } from "../format/ids.js";
import {
  type Chunking,
  chunkOffsets,
  encodeManifest,
  MANIFEST_VERSION,
  type Manifest,
} from "../format/manifest.js";
import { prefetchFromReads } from "../format/profile.js";
import { type RefUpdate, signRefUpdate } from "../format/ref.js";
import {
  type BootFileOptions,
  checkBootFiles,
  checkBootFilesFit,
  uploadBootFiles,
} from "./boot-files.js";
import { ChunkUploader, type UploadCounts } from "./chunk-upload.js";
import { PiecePool } from "./piece-pool.js";
import { readPieces } from "./read-pieces.js";
import { PublishError, type PublishTarget } from "./target.js";

export type { BootFileOptions } from "./boot-files.js";

export interface PublishOptions {
  image: string;
  name: string;
  target: PublishTarget;
  chunking: Chunking;
  codec: Codec;
  level: number;
  /** Chunks compressed at once, on libuv's thread pool: the number of cores is a good choice. */
  jobs: number;
  /** A recorded boot's reads (`edgeboot nbd --record`): the chunks covering them become the prefetch list. */
  prefetchReads?: readonly [number, number][];
  /** A kernel (and initramfs, command line) to publish with the image, making it bootable. */
  boot?: BootFileOptions;
  /**
   * Publish a 0-byte image (an empty rootfs). Without it one is refused before anything is
   * uploaded: an empty image is almost always a build that failed.
   */
  allowEmpty?: boolean;
  /** Ed25519 keys to sign the ref with. */
  keys?: { privateKey: CryptoKey; publicKey: CryptoKey };
  onProgress?: (progress: PublishProgress) => void;
}

/** Where a running publish is; the chunk counts include the boot files'. */
export interface PublishProgress extends UploadCounts {
  imageSize: number;
  /** Bytes of the boot files (0 without any). */
  bootSize: number;
  /** Bytes read so far, of the image and the boot files. */
  bytesRead: number;
}

/** What a finished publish did. */
export interface PublishSummary extends PublishProgress {
  name: string;
  manifestId: string;
  uniqueChunks: number;
  /** Bytes read (image and boot files) over the bytes of their distinct chunks. */
  dedupRatio: number;
  /** Bytes of the chunks uploaded over their compressed frames (1 when none was new). */
  compressionRatio: number;
  seconds: number;
  signed: boolean;
  /** Chunks in the manifest's prefetch list. */
  prefetchChunks: number;
  /** The boot files the manifest names, when published with a kernel. */
  boot?: BootFiles;
}

/**
 * Publishes an image as rootfs `name`: reads it as a stream (memory stays bounded whatever its
 * size), cuts it into chunks, hashes them and compresses only those the target lacks, on every
 * core, and uploads them; then the boot files, if any, the same way; then the manifest, then moves
 * the ref with a compare-and-swap against the ref read at the start. Bad boot files are refused
 * before anything is uploaded. Interrupted anywhere, a rerun finishes the job; no ref ever points
 * at missing data. A 0-byte image is refused unless `allowEmpty` says it is meant.
 */
export async function publish(options: PublishOptions): Promise<PublishSummary> {
  const started = performance.now();
  const problem = rootfsNameProblem(options.name);
  if (problem) throw new PublishError(`bad rootfs name "${options.name}": ${problem}`);
  const imageSize = await imageSizeOf(options.image);
  const { target } = options;
  const bootFiles = options.boot ? await checkBootFiles(options.boot) : undefined;
  if (bootFiles) checkBootFilesFit(bootFiles, await target.chunksPerResponse?.());
  const current = await target.getRef(options.name);
  const progress: PublishProgress = {
    imageSize,
    bootSize: bootFiles?.size ?? 0,
    bytesRead: 0,
    chunks: 0,
    newChunks: 0,
    reusedChunks: 0,
    bytesUploaded: 0,
  };
  const report = () => options.onProgress?.({ ...progress });
  const uploader = new ChunkUploader({
    target,
    chunking: options.chunking,
    codec: options.codec,
    level: options.level,
    jobs: options.jobs,
    counts: progress,
    onChange: report,
  });
  // Fixed chunks are read straight into buffers of the chunk's size, each one the chunk itself and
  // reused once it is compressed; CDC chunks are cut from pieces of 1 MiB.
  const { chunking } = options;
  const pool = chunking.kind === "fixed" ? new PiecePool(chunking.size) : undefined;
  let size = 0;
  const { sha256, ...image } = await uploader.upload(
    readPieces(
      options.image,
      "the image",
      (piece) => {
        size += piece.byteLength;
        progress.bytesRead += piece.byteLength;
      },
      pool,
    ),
    chunking,
    { piecesHandedOver: true, done: pool && ((chunk) => pool.give(chunk)) },
  );
  // An empty image has no chunks: nothing has been uploaded yet.
  if (size === 0 && !options.allowEmpty) {
    throw new PublishError(
      `${options.image} is empty (0 bytes): an empty image is usually a build that failed, and publishing it would move "${options.name}" to an empty rootfs. Check the build; pass --allow-empty if an empty rootfs is meant`,
    );
  }
  let boot: BootFiles | undefined;
  if (bootFiles) {
    boot = await uploadBootFiles(bootFiles, uploader, (bytes) => {
      progress.bytesRead += bytes;
    });
  }
  await uploader.finish();
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    size,
    sha256,
    chunking: options.chunking,
    codec: options.codec,
    created: new Date().toISOString(),
    ...image,
  };
  if (options.prefetchReads) {
    manifest.prefetch = prefetchFromReads(options.prefetchReads, chunkOffsets(manifest));
  }
  if (boot) manifest.boot = boot;
  const manifestBytes = encodeManifest(manifest);
  const manifestId = await sha256Hex(manifestBytes);
  await target.putManifest(manifestId, manifestBytes);
  const published = publishTime(current?.ref.published);
  const unsigned = { manifest: manifestId, published };
  const update: RefUpdate = options.keys
    ? await signRefUpdate(options.name, unsigned, options.keys)
    : unsigned;
  await target.putRef(options.name, update, current);
  return {
    ...progress,
    name: options.name,
    manifestId,
    uniqueChunks: uploader.distinctChunks,
    dedupRatio: uploader.distinctBytes === 0 ? 1 : progress.bytesRead / uploader.distinctBytes,
    compressionRatio:
      uploader.uploadedFrames === 0 ? 1 : uploader.uploadedRaw / uploader.uploadedFrames,
    seconds: (performance.now() - started) / 1000,
    signed: options.keys !== undefined,
    prefetchChunks: manifest.prefetch?.length ?? 0,
    ...(boot ? { boot } : {}),
  };
}

async function imageSizeOf(image: string): Promise<number> {
  try {
    const info = await stat(image);
    if (!info.isFile() && !info.isBlockDevice()) {
      throw new PublishError(`${image} is not a file or block device: give a disk image`);
    }
    return info.size;
  } catch (error) {
    if (error instanceof PublishError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new PublishError(`no image at ${image}: check the path`);
    throw new PublishError(`cannot read ${image} (${code ?? String(error)})`);
  }
}

function publishTime(previous: string | undefined): string {
  const now = Date.now();
  const after = previous ? Date.parse(previous) + 1 : 0;
  return new Date(Math.max(now, after)).toISOString();
}
