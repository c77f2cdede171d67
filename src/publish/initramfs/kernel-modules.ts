import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { release } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { errorText } from "../../lib/errors.js";
import { InitramfsError } from "./errors.js";

const run = promisify(execFile);

/** A kernel module ready for busybox insmod (decompressed). */
export interface KernelModule {
  name: string;
  bytes: Uint8Array;
}

/** The modules of a kernel to put in an initramfs, dependencies first. */
export interface ModuleSet {
  /** The kernel release the modules are for (the directory's name). */
  version: string;
  /** In load order. */
  modules: KernelModule[];
  /** Asked for, but built into the kernel: nothing to load. */
  builtin: string[];
}

/**
 * The modules directory of a kernel: `modulesDir` when given, else `/lib/modules/<kernel>`, else
 * the running kernel's. Throws an InitramfsError when it does not exist.
 */
export function findModulesDir(options: { modulesDir?: string; kernel?: string }): string {
  const dir = options.modulesDir ?? join("/lib/modules", options.kernel ?? release());
  if (!existsSync(join(dir, "kernel"))) {
    const how = options.modulesDir
      ? "give the kernel's lib/modules/VERSION directory (e.g. from `dpkg-deb -x linux-image-….deb DIR`)"
      : "install that kernel's modules or give --modules-dir DIR";
    throw new InitramfsError(`no kernel modules directory at ${dir} (no kernel/ in it): ${how}`);
  }
  return dir;
}

/**
 * The modules `roots` need from the kernel in `modulesDir`, each after the modules it depends on
 * (read from its own `.modinfo` `depends=`, so no `modules.dep` is needed: Debian's kernel
 * packages ship none). `.ko.xz`, `.ko.zst` and `.ko.gz` are decompressed. A root built into the
 * kernel (listed in `modules.builtin`) is skipped; a root found nowhere is an InitramfsError.
 */
export async function moduleClosure(
  modulesDir: string,
  roots: readonly string[],
): Promise<ModuleSet> {
  const files = new Map<string, string>();
  for (const path of await walk(join(modulesDir, "kernel"))) {
    const match = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(basename(path));
    if (match?.[1]) files.set(moduleName(match[1]), path);
  }
  const builtin = await builtinModules(modulesDir);
  const order: KernelModule[] = [];
  const done = new Set<string>();
  const skipped: string[] = [];
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (done.has(name)) return;
    if (chain.includes(name)) {
      throw new InitramfsError(`kernel module dependency cycle: ${[...chain, name].join(" → ")}`);
    }
    const path = files.get(name);
    if (!path) {
      if (builtin.has(name)) {
        done.add(name);
        if (chain.length === 0) skipped.push(name);
        return;
      }
      const neededBy = chain.length ? ` (needed by ${chain.join(" → ")})` : "";
      throw new InitramfsError(
        `no kernel module ${name} under ${modulesDir}${neededBy}: check the name (modinfo -b DIR ${name}) or leave it out`,
      );
    }
    const bytes = await readModule(path);
    for (const dep of dependsOf(bytes)) await visit(dep, [...chain, name]);
    done.add(name);
    order.push({ name, bytes });
  };
  for (const root of roots) await visit(moduleName(root), []);
  return { version: basename(modulesDir), modules: order, builtin: skipped };
}

/** A module name as the kernel compares them (`-` and `_` are the same). */
export function moduleName(name: string): string {
  return name.replaceAll("-", "_");
}

/** The `depends=` list of a module's `.modinfo` section. */
export function dependsOf(bytes: Uint8Array): string[] {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const key = "\0depends=";
  const at = data.indexOf(key);
  if (at < 0) return [];
  const end = data.indexOf(0, at + 1);
  const list = data.subarray(at + key.length, end < 0 ? undefined : end).toString("latin1");
  return list.split(",").filter(Boolean).map(moduleName);
}

async function builtinModules(modulesDir: string): Promise<Set<string>> {
  const text = await readFile(join(modulesDir, "modules.builtin"), "utf8").catch(() => "");
  const names = text.split("\n").map((line) => /([^/]+)\.ko$/.exec(line)?.[1]);
  return new Set(names.filter((name): name is string => Boolean(name)).map(moduleName));
}

async function readModule(path: string): Promise<Uint8Array> {
  if (path.endsWith(".ko")) return readFile(path);
  const [tool, pkg] = path.endsWith(".xz")
    ? ["xz", "xz-utils"]
    : path.endsWith(".zst")
      ? ["zstd", "zstd"]
      : ["gzip", "gzip"];
  try {
    const { stdout } = await run(tool, ["-dc", path], {
      encoding: "buffer",
      maxBuffer: 256 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new InitramfsError(
        `${path} is compressed and ${tool} is not installed: apt-get install -y --no-install-recommends ${pkg}`,
      );
    }
    throw new InitramfsError(`cannot decompress ${path}: ${errorText(error)}`);
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}
