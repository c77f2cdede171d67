import { existsSync } from "node:fs";
import { lstat, readdir, readFile, readlink, realpath } from "node:fs/promises";
import { join, posix } from "node:path";
import { loadPublicKey } from "../keys.js";
import type { CpioEntry } from "./cpio.js";
import { InitramfsError } from "./errors.js";
import { cliPackage, requireTool, sharedLibraries, staticBusybox } from "./host-files.js";
import {
  diskInitScript,
  FETCHER_APP_DIR,
  FETCHER_ARCHIVE_DIR,
  FETCHER_CPU_PROFILER,
  FETCHER_TRUST_KEY,
  fetcherInitScript,
  UNPACKED_MARKER,
  udhcpcScript,
} from "./init-script.js";
import type { ModuleSet } from "./kernel-modules.js";

/** The modules a virtio machine needs to fetch its root: NIC, a cache disk, NBD, overlayfs. */
export const FETCHER_MODULES = ["virtio_pci", "virtio_net", "virtio_blk", "nbd", "overlay"];

/** The modules a virtio machine needs to mount a root disk the host attaches. */
export const DISK_MODULES = ["virtio_pci", "virtio_blk"];

/** The C library's ldd script: which C library this is, for the loaders that read it. */
const LDD = "/usr/bin/ldd";

/** What goes into an initramfs besides the kernel modules. */
export interface ContentsOptions {
  modules: ModuleSet;
  /** Only busybox, the modules and an /init that mounts `root=`: no fetcher. */
  minimal?: boolean;
  /** The publisher's public key (see {@link readTrustKey}), baked in. */
  trustKey?: TrustKey;
}

/** What an initramfs holds, for the summary the command prints. */
export interface ContentsSummary {
  busybox: { path: string; applets: number };
  fetcher?: {
    node: { path: string; version: string };
    nbdClient: string;
    npmPackages: string[];
    libraries: string[];
    /** The baked-in publisher key (raw, base64), if any. */
    trustKey?: string;
  };
}

/** The archive's members, parents first, and what they are. */
export interface InitramfsContents {
  entries: CpioEntry[];
  summary: ContentsSummary;
}

/** A publisher's public key file and the raw key it holds. */
export interface TrustKey {
  path: string;
  /** Raw Ed25519 public key, base64. */
  key: string;
}

/** Reads and checks a public key file (edgeboot keygen's .pub) for `--trust`. */
export async function readTrustKey(path: string): Promise<TrustKey> {
  const key = await loadPublicKey(path).catch((error: Error) => {
    throw new InitramfsError(`--trust ${path}: ${error.message}`);
  });
  return { path, key };
}

/** Collects the members of an initramfs from this host (busybox, Node, nbd-client, the CLI). */
export async function initramfsContents(options: ContentsOptions): Promise<InitramfsContents> {
  const tree = new ArchiveTree();
  for (const dir of [
    "bin",
    "dev",
    "etc/edgeboot",
    "lib/modules",
    "proc",
    "sys",
    "run",
    "newroot",
  ]) {
    tree.dir(dir);
  }
  tree.add({ path: "dev/console", type: "char", device: [5, 1], mode: 0o600 });
  tree.add({ path: "dev/null", type: "char", device: [1, 3], mode: 0o666 });
  const busybox = await staticBusybox();
  tree.file("bin/busybox", busybox.bytes, 0o755);
  for (const applet of busybox.applets.filter((name) => name !== "busybox")) {
    tree.add({ path: `bin/${applet}`, type: "symlink", target: "busybox" });
  }
  const { modules } = options;
  tree.file("etc/edgeboot/kernel", `${modules.version}\n`);
  tree.file("etc/edgeboot/modules", modules.modules.map((m) => `${m.name}\n`).join(""));
  for (const module of modules.modules) tree.file(`lib/modules/${module.name}.ko`, module.bytes);
  const summary: ContentsSummary = {
    busybox: { path: busybox.path, applets: busybox.applets.length },
  };
  if (options.minimal) {
    tree.file("init", diskInitScript(), 0o755);
  } else {
    tree.file("init", fetcherInitScript(), 0o755);
    tree.file("etc/edgeboot/udhcpc.sh", udhcpcScript(), 0o755);
    summary.fetcher = await addFetcher(tree, options.trustKey);
  }
  tree.file(UNPACKED_MARKER, "the kernel unpacked every member before this one\n");
  return { entries: tree.entries, summary };
}

/** Adds the fetcher's root under {@link FETCHER_ARCHIVE_DIR}: Node, nbd-client, libraries, the CLI. */
async function addFetcher(
  tree: ArchiveTree,
  trustKey: TrustKey | undefined,
): Promise<NonNullable<ContentsSummary["fetcher"]>> {
  const root = FETCHER_ARCHIVE_DIR;
  for (const dir of ["bin", "etc/edgeboot", "proc", "sys", "dev", "cache", "log", "tmp"]) {
    tree.dir(`${root}/${dir}`);
  }
  const nbdClient = requireTool({ name: "nbd-client", debianPackage: "nbd-client" });
  const node = process.execPath;
  tree.file(`${root}/bin/node`, await readFile(node), 0o755);
  tree.file(`${root}/bin/nbd-client`, await readFile(nbdClient), 0o755);

  const cli = await cliPackage();
  const app = `${root}/${FETCHER_APP_DIR}`;
  const version = await packageVersion(cli.root);
  tree.file(
    `${app}/package.json`,
    `${JSON.stringify({ name: "edgeboot", version, private: true, type: "module" })}\n`,
  );
  tree.file(`${app}/dist/cli/edgeboot.js`, await readFile(cli.bundle));
  tree.file(`${root}/${FETCHER_CPU_PROFILER}`, await readFile(cli.profiler));
  const nativeAddons: string[] = [];
  for (const pkg of cli.packages) {
    await copyTree(tree, join(cli.root, pkg), `${app}/${pkg}`, nativeAddons);
  }

  const libs = await sharedLibraries([node, nbdClient, ...nativeAddons]);
  for (const [, path] of libs.libraries) {
    tree.file(`${root}${path}`, await readFile(await realpath(path)), 0o755);
  }
  tree.file(`${root}${libs.loader}`, await readFile(await realpath(libs.loader)), 0o755);

  // The zstd binding's loader (napi-rs) tells glibc from musl by reading /usr/bin/ldd; without
  // it, it asks process.report for a full diagnostic report, which is slow under emulation.
  if (existsSync(LDD)) tree.file(`${root}${LDD}`, await readFile(LDD), 0o755);
  if (trustKey) tree.file(`${root}/${FETCHER_TRUST_KEY}`, await readFile(trustKey.path));
  return {
    node: { path: node, version: process.version },
    nbdClient,
    npmPackages: cli.packages.map((pkg) => pkg.replace(/^node_modules\//, "")),
    libraries: [...libs.libraries.keys()],
    trustKey: trustKey?.key,
  };
}

const SKIPPED_FILES = /\.(md|markdown|map|d\.ts|d\.mts|d\.cts)$/i;

/** Copies a package directory into the archive, without nested node_modules (listed on their own). */
async function copyTree(
  tree: ArchiveTree,
  from: string,
  to: string,
  addons: string[],
): Promise<void> {
  tree.dir(to);
  const entries = await readdir(from, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const source = join(from, entry.name);
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") await copyTree(tree, source, target, addons);
    } else if (entry.isSymbolicLink()) {
      tree.add({ path: target, type: "symlink", target: await readlink(source) });
    } else if (entry.isFile() && !SKIPPED_FILES.test(entry.name)) {
      const mode = (await lstat(source)).mode & 0o777;
      tree.file(target, await readFile(source), mode);
      if (entry.name.endsWith(".node")) addons.push(source);
    }
  }
}

async function packageVersion(root: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "0.0.0";
}

/** Archive members in order, each directory once and before what it holds. */
class ArchiveTree {
  readonly entries: CpioEntry[] = [];
  private readonly paths = new Set<string>();

  dir(path: string): void {
    if (this.paths.has(path)) return;
    const parent = posix.dirname(path);
    if (parent !== ".") this.dir(parent);
    this.paths.add(path);
    this.entries.push({ path, type: "dir" });
  }

  file(path: string, data: Uint8Array | string, mode = 0o644): void {
    this.add({ path, type: "file", data, mode });
  }

  add(entry: CpioEntry): void {
    if (this.paths.has(entry.path)) return;
    const parent = posix.dirname(entry.path);
    if (parent !== ".") this.dir(parent);
    this.paths.add(entry.path);
    this.entries.push(entry);
  }
}
