import {
  checkLengths,
  decodeChunkIds,
  decodeLengths,
  encodeLengths,
  jsonRecord,
  nonNegativeInteger,
} from "./chunk-list.js";
import { FormatError } from "./errors.js";
import { isObjectId, type ObjectId } from "./ids.js";
import { MAX_CHUNK_BYTES } from "./limits.js";

/** The boot files a manifest can carry, in their canonical order. */
export const BOOT_FILE_KINDS = ["kernel", "initrd"] as const;

/** `kernel` or `initrd`. */
export type BootFileKind = (typeof BOOT_FILE_KINDS)[number];

/** Longest publisher command line: Linux's own limit on x86 is 2048 bytes, and the edge adds its own. */
export const MAX_BOOT_CMDLINE_BYTES = 1024;

/** Largest boot file: 1 GiB, far above any kernel or initramfs. */
export const MAX_BOOT_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * The chunk size the publisher cuts boot files with: 4 MiB, whatever the image's chunking. iPXE
 * and UEFI HTTP boot load a boot file in one GET, and the edge reads a bounded number of chunks per
 * response (15 at the Free plan's budget), so boot files are cut large: 60 MiB fit in one response.
 */
export const BOOT_FILE_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * A file published beside an image (a kernel, an initramfs): cut in fixed chunks of `chunk` bytes,
 * compressed with the image's codec and stored as ordinary chunks, so it is verified, deduplicated
 * and collected like them, and named in the manifest, so the ref's signature covers it.
 */
export interface BootFile {
  size: number;
  /** Lowercase hex SHA-256 of the whole file. */
  sha256: string;
  /** The fixed chunk size it was cut with (the last chunk may be shorter). */
  chunk: number;
  chunks: ObjectId[];
  /** Uncompressed length of each chunk, parallel to `chunks`. */
  lengths: number[];
}

/** What a machine needs to boot a rootfs version: its kernel, initramfs and kernel command line. */
export interface BootFiles {
  /** The publisher's kernel arguments; the edge's iPXE script appends the `edgeboot.*` ones. */
  cmdline: string;
  kernel: BootFile;
  initrd?: BootFile;
}

/**
 * The kernel arguments the edge's boot script writes for the initramfs; a publisher may set the
 * initramfs's other switches (`edgeboot.onfail=shell`, `edgeboot.cachelimit=`, ...) but not these.
 */
export const EDGE_WRITTEN_ARGUMENTS = [
  "edgeboot.edge",
  "edgeboot.rootfs",
  "edgeboot.manifest",
  "edgeboot.published",
  "edgeboot.sig",
] as const;

/** Why `cmdline` cannot be published, or `undefined` when it can. */
export function cmdlineProblem(cmdline: string): string | undefined {
  if (new TextEncoder().encode(cmdline).byteLength > MAX_BOOT_CMDLINE_BYTES) {
    return `the kernel command line is over ${MAX_BOOT_CMDLINE_BYTES} bytes`;
  }
  if (!/^[\x20-\x7e]*$/.test(cmdline)) {
    return "the kernel command line may hold only printable ASCII (no tabs, newlines or other control characters)";
  }
  if (cmdline.includes("$")) {
    return "the kernel command line may not contain $ (iPXE would expand it as a setting)";
  }
  const written = EDGE_WRITTEN_ARGUMENTS.find((name) =>
    cmdline.split(" ").some((word) => word === name || word.startsWith(`${name}=`)),
  );
  if (written) {
    return `the kernel command line may not set ${written}: the edge writes it (with edgeboot.edge, .rootfs, .manifest, .published and .sig)`;
  }
  return undefined;
}

/** The canonical document of `boot` (fixed key order). */
export function encodeBootFiles(boot: BootFiles): Record<string, unknown> {
  const doc: Record<string, unknown> = { cmdline: boot.cmdline };
  for (const kind of BOOT_FILE_KINDS) {
    const file = boot[kind];
    if (file) {
      doc[kind] = {
        size: file.size,
        sha256: file.sha256,
        chunk: file.chunk,
        lengths: encodeLengths(file.lengths),
        chunks: file.chunks,
      };
    }
  }
  return doc;
}

/** Checks a manifest's `boot` document. */
export function decodeBootFiles(value: unknown): BootFiles {
  const doc = jsonRecord(value, "boot");
  for (const key of Object.keys(doc)) {
    if (key !== "cmdline" && !(BOOT_FILE_KINDS as readonly string[]).includes(key)) {
      throw new FormatError(`manifest boot has an unknown field "${key}"`, "boot");
    }
  }
  if (typeof doc.cmdline !== "string") {
    throw new FormatError("manifest boot.cmdline must be a string", "boot.cmdline");
  }
  const problem = cmdlineProblem(doc.cmdline);
  if (problem) throw new FormatError(`manifest boot.cmdline: ${problem}`, "boot.cmdline");
  if (doc.kernel === undefined) {
    throw new FormatError("manifest boot must name a kernel", "boot.kernel");
  }
  const boot: BootFiles = { cmdline: doc.cmdline, kernel: decodeBootFile(doc, "kernel") };
  if (doc.initrd !== undefined) boot.initrd = decodeBootFile(doc, "initrd");
  return boot;
}

/** The boot files of `boot` that are present, in canonical order. */
export function bootFileEntries(boot: BootFiles | undefined): [BootFileKind, BootFile][] {
  if (!boot) return [];
  return BOOT_FILE_KINDS.flatMap((kind) => {
    const file = boot[kind];
    return file ? [[kind, file] as [BootFileKind, BootFile]] : [];
  });
}

/** Whether `value` names a boot file kind. */
export function isBootFileKind(value: unknown): value is BootFileKind {
  return (BOOT_FILE_KINDS as readonly unknown[]).includes(value);
}

function decodeBootFile(parent: Record<string, unknown>, kind: BootFileKind): BootFile {
  const field = `boot.${kind}`;
  const doc = jsonRecord(parent[kind], `manifest ${field}`);
  for (const key of Object.keys(doc)) {
    if (!["size", "sha256", "chunk", "lengths", "chunks"].includes(key)) {
      throw new FormatError(`manifest ${field} has an unknown field "${key}"`, field);
    }
  }
  const size = nonNegativeInteger(doc.size, `${field}.size`);
  if (size < 1 || size > MAX_BOOT_FILE_BYTES) {
    throw new FormatError(
      `manifest ${field}.size must be between 1 and ${MAX_BOOT_FILE_BYTES} bytes`,
      `${field}.size`,
    );
  }
  if (!isObjectId(doc.sha256)) {
    throw new FormatError(`manifest ${field}.sha256 must be 64 lowercase hex digits`, field);
  }
  const chunk = nonNegativeInteger(doc.chunk, `${field}.chunk`);
  if (chunk < 1 || chunk > MAX_CHUNK_BYTES) {
    throw new FormatError(
      `manifest ${field}.chunk must be between 1 and ${MAX_CHUNK_BYTES} bytes`,
      `${field}.chunk`,
    );
  }
  const chunks = decodeChunkIds(doc.chunks, `${field}.chunks`, `${field} chunk`);
  const lengths = decodeLengths(doc.lengths, chunks.length, `${field}.lengths`);
  checkLengths(
    lengths,
    size,
    { kind: "fixed", size: chunk },
    {
      field: `${field}.lengths`,
      sizeField: `${field}.size`,
      what: kind,
    },
  );
  return { size, sha256: doc.sha256, chunk, chunks, lengths };
}
