import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { InitramfsError } from "./errors.js";

const run = promisify(execFile);

/** A host program and the Debian package that provides it. */
interface Tool {
  name: string;
  debianPackage: string;
}

/** The applets /init needs from busybox. */
const NEEDED_APPLETS = [
  "sh",
  "mount",
  "umount",
  "insmod",
  "switch_root",
  "poweroff",
  "udhcpc",
  "ip",
  "findfs",
  "grep",
  "tail",
  "cp",
  "mv",
  "mkdir",
  "sleep",
  "usleep",
  "cat",
  "setsid",
  "cttyhack",
  "awk",
  "df",
  "chroot",
  "uname",
];

/**
 * Finds `tool` on PATH, then in /usr/sbin and /sbin (a user's PATH on Debian lacks them); throws
 * an InitramfsError with the `apt-get install` line when it is nowhere.
 */
export function requireTool(tool: Tool): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, tool.name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  throw new InitramfsError(
    `${tool.name} not found (Debian package ${tool.debianPackage}): apt-get install -y --no-install-recommends ${tool.debianPackage}`,
  );
}

/** A statically linked busybox and the applets it answers to. */
export interface Busybox {
  path: string;
  bytes: Buffer;
  applets: string[];
}

/**
 * Debian's static busybox (package busybox-static): the dynamic one of package `busybox` would
 * need libc beside it. Checks it has every applet /init uses.
 */
export async function staticBusybox(): Promise<Busybox> {
  const install = "apt-get install -y --no-install-recommends busybox-static";
  const path = requireTool({ name: "busybox", debianPackage: "busybox-static" });
  const bytes = await readFile(path);
  if (isDynamicElf(bytes)) {
    throw new InitramfsError(
      `${path} is dynamically linked; the initramfs needs a static one: ${install}`,
    );
  }
  const { stdout } = await run(path, ["--list"]);
  const applets = stdout.split("\n").filter((name) => /^[a-z0-9_.[-]+$/.test(name));
  const missing = NEEDED_APPLETS.filter((name) => !applets.includes(name));
  if (missing.length) {
    throw new InitramfsError(`${path} lacks the applets ${missing.join(", ")}: ${install}`);
  }
  return { path, bytes, applets };
}

/** Whether `bytes` is an ELF64 file asking for a program interpreter (PT_INTERP). */
export function isDynamicElf(bytes: Buffer): boolean {
  if (bytes.byteLength < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) {
    throw new InitramfsError("busybox is not a 64-bit ELF binary");
  }
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const phentsize = bytes.readUInt16LE(0x36);
  const phnum = bytes.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (bytes.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}

/** The shared libraries some binaries load, as `ldd` resolves them on this host. */
export interface SharedLibraries {
  /** The dynamic loader's path as the binaries name it (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2. */
  loader: string;
  /** Library file name (as linked) → its path on the host. */
  libraries: Map<string, string>;
}

/** Every shared library `binaries` link (ldd), and their dynamic loader. */
export async function sharedLibraries(binaries: readonly string[]): Promise<SharedLibraries> {
  const libraries = new Map<string, string>();
  let loader: string | undefined;
  const ldd = requireTool({ name: "ldd", debianPackage: "libc-bin" });
  for (const binary of binaries) {
    const { stdout } = await run(ldd, [binary]).catch((error: Error) => {
      throw new InitramfsError(`ldd ${binary} failed: ${error.message.trim()}`);
    });
    for (const line of stdout.split("\n")) {
      const linked = /^\s*(\S+) => (\/\S+) \(0x/.exec(line);
      const direct = /^\s*(\/\S+) \(0x/.exec(line);
      if (linked?.[1] && linked[2]) libraries.set(linked[1], linked[2]);
      else if (direct?.[1]) loader = direct[1];
      else if (/not found/.test(line)) {
        throw new InitramfsError(`${binary} links a library this host lacks: ${line.trim()}`);
      }
    }
  }
  if (!loader) throw new InitramfsError(`ldd named no dynamic loader for ${binaries.join(", ")}`);
  return { loader, libraries };
}

/** The edgeboot package on this host: its root, its built CLI bundle and its runtime packages. */
export interface CliPackage {
  root: string;
  /** dist/cli/edgeboot.js */
  bundle: string;
  /** dist/cli/cpu-profile.js: the preload /init starts the fetcher under for edgeboot.cpuprof= */
  profiler: string;
  /** Directories of the npm packages it loads at run time, relative to `root`. */
  packages: string[];
}

/**
 * The edgeboot package this code belongs to, found by walking up from this module to the
 * package.json named "edgeboot", with its runtime npm packages (`npm ls --omit=dev --parseable
 * --all`). Throws an InitramfsError when the CLI is not built or npm cannot list them.
 */
export async function cliPackage(from = fileURLToPath(import.meta.url)): Promise<CliPackage> {
  let root = dirname(from);
  while (!(await isEdgebootRoot(root))) {
    const up = dirname(root);
    if (up === root) throw new InitramfsError(`no edgeboot package.json above ${from}`);
    root = up;
  }
  const bundle = join(root, "dist", "cli", "edgeboot.js");
  const profiler = join(root, "dist", "cli", "cpu-profile.js");
  if (!existsSync(bundle) || !existsSync(profiler)) {
    throw new InitramfsError(
      `the CLI is not built (no ${existsSync(bundle) ? profiler : bundle}): run \`npm run build:cli\` in ${root}`,
    );
  }
  const npm = requireTool({ name: "npm", debianPackage: "npm" });
  const listed = await run(npm, ["ls", "--omit=dev", "--parseable", "--all"], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: Error & { stdout?: string }) => {
    throw new InitramfsError(
      `npm ls --omit=dev in ${root} failed (run \`npm ci\` there): ${error.message.split("\n")[0]}`,
    );
  });
  const packages = listed.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && line !== root)
    .map((line) => relative(root, line));
  const outside = packages.find((pkg) => pkg.startsWith(".."));
  if (outside) {
    throw new InitramfsError(
      `npm keeps the package ${outside} outside ${root} (a workspace?): install edgeboot on its own (npm ci in its directory)`,
    );
  }
  return { root, bundle, profiler, packages };
}

async function isEdgebootRoot(dir: string): Promise<boolean> {
  try {
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { name?: string };
    return pkg.name === "edgeboot";
  } catch {
    return false;
  }
}
