import { randomBytes } from "node:crypto";
import { close, open, rename, write } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Where the temporary file goes (default: beside `path`); on the same file system as `path`. */
  tempDir?: string;
  /** Make the directories of `path` and of the temporary file when they are missing. */
  makeDirs?: boolean;
}

/** Temporary files are `.<name>.<this process's random prefix><counter>.tmp`: unique, and cheap. */
const TEMP_PREFIX = randomBytes(6).toString("hex");
let temps = 0;

/**
 * Writes `data` to `path` so that a reader sees the old file or the whole new one, never a part:
 * into a temporary file, then renamed over `path`. The temporary file is removed on failure.
 * Written through a file descriptor (no FileHandle), directories made only when a step finds
 * them missing: the cost of a file per chunk is open, write, close and rename.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tempDir = options.tempDir ?? dirname(path);
  const temp = join(tempDir, `.${basename(path)}.${TEMP_PREFIX}${temps++}.tmp`);
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const inDir = options.makeDirs
    ? retryInMadeDir
    : (_dir: string, step: () => Promise<void>) => step();
  try {
    await inDir(tempDir, () => writeWhole(temp, bytes));
    await inDir(dirname(path), () => fsRename(temp, path));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Runs `step`; if it fails because `dir` is missing, makes `dir` and runs it again. */
async function retryInMadeDir<T>(dir: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(dir, { recursive: true });
    return await step();
  }
}

const fsOpen = promisify(open);
const fsClose = promisify(close);
const fsRename = promisify(rename);
const fsWrite = (fd: number, bytes: Uint8Array, offset: number) =>
  new Promise<number>((resolve, reject) =>
    write(fd, bytes, offset, bytes.byteLength - offset, offset, (error, written) =>
      error ? reject(error) : resolve(written),
    ),
  );

/** Writes `bytes` as a new file at `path`, going on after a short write. */
async function writeWhole(path: string, bytes: Uint8Array): Promise<void> {
  const fd = await fsOpen(path, "w");
  try {
    for (let done = 0; done < bytes.byteLength; ) {
      const written = await fsWrite(fd, bytes, done);
      if (written === 0) throw new Error(`write to ${path} wrote nothing at byte ${done}`);
      done += written;
    }
  } finally {
    await fsClose(fd);
  }
}
