import { createRequire } from "node:module";
import { writeFileAtomic } from "../../lib/atomic-file.js";
import { errorText } from "../../lib/errors.js";
import {
  type ContentsSummary,
  DISK_MODULES,
  FETCHER_MODULES,
  initramfsContents,
  readTrustKey,
} from "./contents.js";
import { encodeCpioNewc } from "./cpio.js";
import { InitramfsError } from "./errors.js";
import { findModulesDir, moduleClosure } from "./kernel-modules.js";

/** zstd level when none is given: about 3 s for the fetching initramfs, within 15% of level 19. */
export const DEFAULT_ZSTD_LEVEL = 9;

/** How to build an initramfs. */
export interface BuildInitramfsOptions {
  /** Where to write it (cpio newc, zstd). */
  output: string;
  /** The kernel's `lib/modules/<version>` directory; else `/lib/modules/<kernel>`. */
  modulesDir?: string;
  /** A kernel release under /lib/modules (default: the running kernel's). */
  kernel?: string;
  /** Modules to load besides the defaults (their dependencies come along). */
  modules?: string[];
  /** Busybox, the modules and an /init that mounts `root=` read-only: no fetcher. */
  minimal?: boolean;
  /** The publisher's public key file (edgeboot keygen's .pub), baked in for the fetcher. */
  trustKeyFile?: string;
  /** zstd level, 1 to 19 (default {@link DEFAULT_ZSTD_LEVEL}). */
  level?: number;
  /** Told of each step as it starts. */
  onStep?: (step: string) => void;
}

/** A built initramfs and what it holds. */
export interface BuiltInitramfs {
  path: string;
  /** Compressed size. */
  bytes: number;
  /** Size of the cpio archive before compression. */
  archiveBytes: number;
  /** Archive members (files, directories, links, device nodes). */
  members: number;
  level: number;
  kernel: { version: string; modulesDir: string };
  /** Modules /init loads, in load order. */
  modules: string[];
  /** Modules asked for but built into the kernel. */
  builtinModules: string[];
  contents: ContentsSummary;
}

/**
 * Builds an initramfs (cpio newc compressed with zstd, which Debian's kernels unpack) at
 * `options.output`: busybox, the kernel modules with their dependencies and an /init; unless
 * `minimal`, also Node, the edgeboot CLI with its npm packages, nbd-client and their shared
 * libraries, so that the machine fetches its own root from the edge. The file is written
 * atomically. Fails with an InitramfsError saying what is missing and how to get it.
 */
export async function buildInitramfs(options: BuildInitramfsOptions): Promise<BuiltInitramfs> {
  const level = options.level ?? DEFAULT_ZSTD_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 19) {
    throw new InitramfsError(`the zstd level must be a whole number from 1 to 19, not ${level}`);
  }
  const step = options.onStep ?? (() => {});
  const modulesDir = findModulesDir(options);
  const trustKey = options.trustKeyFile ? await readTrustKey(options.trustKeyFile) : undefined;
  step(`reading kernel modules in ${modulesDir}`);
  const roots = [...(options.minimal ? DISK_MODULES : FETCHER_MODULES), ...(options.modules ?? [])];
  const modules = await moduleClosure(modulesDir, roots);
  step(options.minimal ? "collecting busybox" : "collecting busybox, Node, the CLI and nbd-client");
  const contents = await initramfsContents({
    modules,
    minimal: options.minimal,
    trustKey,
  });
  const archive = encodeCpioNewc(contents.entries);
  step(`compressing ${(archive.byteLength / 1048576).toFixed(1)} MiB with zstd -${level}`);
  const compressed = await zstdCompress(archive, level);
  await writeAtomically(options.output, compressed);
  return {
    path: options.output,
    bytes: compressed.byteLength,
    archiveBytes: archive.byteLength,
    members: contents.entries.length,
    level,
    kernel: { version: modules.version, modulesDir },
    modules: modules.modules.map((m) => m.name),
    builtinModules: modules.builtin,
    contents: contents.summary,
  };
}

async function zstdCompress(bytes: Buffer, level: number): Promise<Buffer> {
  const { Encoder } = createRequire(import.meta.url)("@toondepauw/node-zstd") as {
    Encoder: new (level: number) => { encode(data: Buffer): Promise<Buffer> };
  };
  return new Encoder(level).encode(bytes);
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InitramfsError(`cannot write ${path}: ${code ?? errorText(error)}`);
  }
}
