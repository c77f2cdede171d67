import { open, stat } from "node:fs/promises";
import {
  BOOT_FILE_CHUNK_BYTES,
  type BootFile,
  type BootFileKind,
  type BootFiles,
  cmdlineProblem,
  MAX_BOOT_FILE_BYTES,
} from "../format/boot-files.js";
import { mebibytes } from "../lib/units.js";
import type { ChunkUploader } from "./chunk-upload.js";
import { PiecePool } from "./piece-pool.js";
import { readPieces } from "./read-pieces.js";
import { PublishError } from "./target.js";

/** The boot files to publish with an image: paths of a kernel and an initramfs, a command line. */
export interface BootFileOptions {
  kernel: string;
  initrd?: string;
  /** The kernel arguments the publisher wants (default none); the edge adds `edgeboot.*`. */
  cmdline?: string;
}

/** Boot files found fit to publish, before anything was uploaded. */
export interface CheckedBootFiles {
  cmdline: string;
  files: { kind: BootFileKind; path: string; size: number }[];
  /** Their bytes in all. */
  size: number;
}

/**
 * Checks the boot files and command line before anything is uploaded, so a refusal changes
 * nothing at the target: each file must be a readable, non-empty regular file of at most
 * MAX_BOOT_FILE_BYTES, and the command line one `cmdlineProblem` accepts.
 */
export async function checkBootFiles(options: BootFileOptions): Promise<CheckedBootFiles> {
  const cmdline = options.cmdline ?? "";
  const problem = cmdlineProblem(cmdline);
  if (problem) throw new PublishError(`bad --cmdline: ${problem}`);
  const files: CheckedBootFiles["files"] = [];
  for (const [kind, path] of [
    ["kernel", options.kernel],
    ["initrd", options.initrd],
  ] as const) {
    if (path !== undefined) files.push({ kind, path, size: await bootFileSize(kind, path) });
  }
  return { cmdline, files, size: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * Refuses boot files the target could not serve in one response (`chunksPerResponse`, when it
 * says): iPXE and UEFI HTTP boot load each boot file in one GET, with no Range.
 */
export function checkBootFilesFit(checked: CheckedBootFiles, chunksPerResponse?: number): void {
  if (chunksPerResponse === undefined) return;
  for (const { kind, path, size } of checked.files) {
    const chunks = Math.ceil(size / BOOT_FILE_CHUNK_BYTES);
    if (chunks > chunksPerResponse) {
      throw new PublishError(
        `the ${kind} ${path} is ${mebibytes(size)}, ${chunks} chunks of ${mebibytes(BOOT_FILE_CHUNK_BYTES)}, and this edge serves at most ${chunksPerResponse} chunks in one response, while iPXE loads a boot file in one GET: make it smaller (at most ${mebibytes(chunksPerResponse * BOOT_FILE_CHUNK_BYTES)}), or raise the edge's REQUEST_OPERATION_BUDGET (Workers Paid, e.g. "1000")`,
      );
    }
  }
}

/**
 * Cuts checked boot files in chunks of BOOT_FILE_CHUNK_BYTES, hashes and uploads them through
 * `uploader` (so their chunks are deduplicated against everything the target holds); `onRead` is told of every piece read.
 */
export async function uploadBootFiles(
  checked: CheckedBootFiles,
  uploader: ChunkUploader,
  onRead: (bytes: number) => void,
): Promise<BootFiles> {
  const uploaded: Partial<Record<BootFileKind, BootFile>> = {};
  for (const { kind, path, size } of checked.files) {
    const pool = new PiecePool(BOOT_FILE_CHUNK_BYTES);
    let read = 0;
    const { sha256, ...list } = await uploader.upload(
      readPieces(
        path,
        `the ${kind}`,
        (piece) => {
          read += piece.byteLength;
          onRead(piece.byteLength);
        },
        pool,
      ),
      { kind: "fixed", size: BOOT_FILE_CHUNK_BYTES },
      { piecesHandedOver: true, done: (chunk) => pool.give(chunk) },
    );
    if (read !== size) {
      throw new PublishError(
        `the ${kind} ${path} changed size while it was published (${size} bytes, then ${read}): rerun once it is written`,
      );
    }
    uploaded[kind] = { size, sha256, chunk: BOOT_FILE_CHUNK_BYTES, ...list };
  }
  const { kernel, initrd } = uploaded;
  if (!kernel) throw new PublishError("boot files need a kernel: give --kernel FILE");
  return { cmdline: checked.cmdline, kernel, ...(initrd ? { initrd } : {}) };
}

async function bootFileSize(kind: BootFileKind, path: string): Promise<number> {
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new PublishError(`--${kind} ${path} is a directory: give the ${kind} file itself`);
    }
    if (!info.isFile()) throw new PublishError(`--${kind} ${path} is not a regular file`);
    size = info.size;
    await (await open(path, "r")).close();
  } catch (error) {
    if (error instanceof PublishError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new PublishError(`no ${kind} at ${path}: check the --${kind} path`);
    throw new PublishError(
      `cannot read the ${kind} ${path} (${code ?? String(error)}): check its permissions`,
    );
  }
  if (size === 0) throw new PublishError(`the ${kind} ${path} is empty: give the real ${kind}`);
  if (size > MAX_BOOT_FILE_BYTES) {
    throw new PublishError(
      `the ${kind} ${path} is ${mebibytes(size)}, over the ${mebibytes(MAX_BOOT_FILE_BYTES)} a boot file may be`,
    );
  }
  return size;
}
