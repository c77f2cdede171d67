import type { Command } from "commander";
import { mebibytes } from "../lib/units.js";
import {
  type BuiltInitramfs,
  buildInitramfs,
  DEFAULT_ZSTD_LEVEL,
} from "../publish/initramfs/build.js";
import { InitramfsError } from "../publish/initramfs/errors.js";
import { stepLine } from "./progress.js";

interface InitramfsFlags {
  output: string;
  modulesDir?: string;
  kernel?: string;
  module: string[];
  trust?: string;
  level: string;
  minimal?: boolean;
}

/** `edgeboot initramfs`: the initramfs with which a machine fetches its own root from the edge. */
export function initramfsCommand(program: Command): void {
  program
    .command("initramfs")
    .description(
      "build the initramfs (cpio, zstd) with which a machine fetches its root from the edge itself: busybox, Node and this CLI, nbd-client, kernel modules",
    )
    .requiredOption("-o, --output <file>", "where to write the initramfs")
    .option("--modules-dir <dir>", "the kernel's lib/modules/VERSION directory")
    .option("--kernel <version>", "a kernel release under /lib/modules (default: the running one)")
    .option(
      "--module <name>",
      "another kernel module to load, with its dependencies (repeatable), e.g. a NIC driver",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option(
      "--trust <key.pub>",
      "the publisher's public key (edgeboot keygen's .pub) the machine pins",
    )
    .option("--level <n>", "zstd level, 1 to 19", String(DEFAULT_ZSTD_LEVEL))
    .option(
      "--minimal",
      "busybox and modules only (virtio_blk by default): /init mounts root= read-only, for a root disk the host attaches",
    )
    .action(async (flags: InitramfsFlags) => {
      if (flags.modulesDir && flags.kernel) {
        throw new InitramfsError("give --modules-dir or --kernel, not both");
      }
      if (flags.minimal && flags.trust) {
        throw new InitramfsError("--trust is for the fetcher, which --minimal leaves out");
      }
      const level = Number(flags.level);
      const progress = stepLine("edgeboot initramfs", process.stderr);
      let built: BuiltInitramfs;
      try {
        built = await buildInitramfs({
          output: flags.output,
          modulesDir: flags.modulesDir,
          kernel: flags.kernel,
          modules: flags.module,
          minimal: flags.minimal,
          trustKeyFile: flags.trust,
          level,
          onStep: progress.step,
        });
      } finally {
        progress.stop();
      }
      process.stdout.write(summary(built));
      if (!flags.minimal && !flags.trust) {
        process.stderr.write(
          "edgeboot: warning: no --trust KEY.pub: machines booted with this initramfs take any root the edge serves\n",
        );
      }
    });
}

function summary(built: BuiltInitramfs): string {
  const { contents, kernel } = built;
  const lines = [
    `wrote ${built.path}: ${mebibytes(built.bytes)} (zstd -${built.level} of a ${mebibytes(built.archiveBytes)} cpio archive, ${built.members} members)`,
    `  kernel     ${kernel.version} (modules from ${kernel.modulesDir})`,
    `  modules    ${built.modules.join(" ") || "none"}${built.builtinModules.length ? ` (built in: ${built.builtinModules.join(" ")})` : ""}`,
    `  busybox    ${contents.busybox.path} (${contents.busybox.applets} applets)`,
  ];
  const fetcher = contents.fetcher;
  if (fetcher) {
    lines.push(
      `  node       ${fetcher.node.version} (${fetcher.node.path})`,
      `  cli        edgeboot with ${fetcher.npmPackages.join(" ")}`,
      `  nbd-client ${fetcher.nbdClient}`,
      `  libraries  ${fetcher.libraries.join(" ")}`,
      `  trust      ${fetcher.trustKey ?? "none (refs are taken unsigned)"}`,
      "  boot it    with net.ifnames=0 edgeboot.edge=URL edgeboot.rootfs=NAME edgeboot.manifest=ID edgeboot.published=TIME edgeboot.sig=SIG",
    );
  } else {
    lines.push("  boot it    with root=/dev/vda (the default) rootfstype=ext4");
  }
  return `${lines.join("\n")}\n`;
}
