import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Where the temporary file goes (default: beside `path`); on the same file system as `path`. */
  tempDir?: string;
  /** Make the directories of `path` and of the temporary file when they are missing. */
  makeDirs?: boolean;
}

/**
 * Writes `data` to `path` so that a reader sees the old file or the whole new one, never a part:
 * into a temporary file, then renamed over `path`. The temporary file is removed on failure.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tempDir = options.tempDir ?? dirname(path);
  const temp = join(tempDir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const inDir = options.makeDirs
    ? retryInMadeDir
    : (_dir: string, step: () => Promise<void>) => step();
  try {
    await inDir(tempDir, () => writeFile(temp, data));
    await inDir(dirname(path), () => rename(temp, path));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Runs `step`; if it fails because `dir` is missing, makes `dir` and runs it again. */
export async function retryInMadeDir<T>(dir: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(dir, { recursive: true });
    return await step();
  }
}
