import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { bootFileEntries } from "../format/boot-files.js";
import type { Codec } from "../format/codec.js";
import { formatChunking } from "../format/manifest.js";
import { parseBootProfile } from "../format/profile.js";
import { errorText, UserError } from "../lib/errors.js";
import { mebibytes } from "../lib/units.js";
import { DEFAULT_CHUNKING, parseChunkingSpec } from "../publish/chunker.js";
import { DirectoryTarget } from "../publish/dir-target.js";
import { EdgeTarget } from "../publish/edge-target.js";
import { loadSigningKeys } from "../publish/keys.js";
import { type BootFileOptions, type PublishSummary, publish } from "../publish/publish.js";
import type { PublishTarget } from "../publish/target.js";
import { parseCodec, parsePositive } from "./flags.js";
import { publishProgressBar } from "./progress.js";

/** Default compression level of each codec. */
export const DEFAULT_LEVEL: Record<Codec, number> = { zstd: 3, gzip: 6 };

interface PublishFlags {
  name: string;
  edge?: string;
  out?: string;
  tokenFile?: string;
  key?: string;
  chunking: string;
  codec: string;
  level?: string;
  jobs?: string;
  profile?: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  allowEmpty?: boolean;
}

/** `edgeboot publish IMAGE --name NAME (--edge URL | --out DIR) [--kernel FILE [--initrd FILE] [--cmdline ARGS]]`. */
export function publishCommand(program: Command): void {
  program
    .command("publish")
    .description("cut an image into chunks, upload the ones the edge lacks, and move a signed ref")
    .argument("<image>", "disk image (or block device) to publish")
    .requiredOption("--name <name>", "rootfs name, [a-z0-9][a-z0-9._-]{0,63}")
    .option("--edge <url>", "edge to publish to (token from EDGEBOOT_TOKEN or --token-file)")
    .option("--out <dir>", "write a static mirror to this directory instead of an edge")
    .option("--token-file <path>", "file whose first line is the edge's publish token")
    .option("--key <path>", "Ed25519 private key (from `edgeboot keygen`) to sign the ref")
    .option(
      "--chunking <spec>",
      "fixed:SIZE, cdc:MIN/AVG/MAX (FastCDC) or casync:MIN/AVG/MAX (casync's chunker)",
      formatChunking(DEFAULT_CHUNKING).replace("262144", "256K"),
    )
    .option("--codec <codec>", "zstd or gzip", "zstd")
    .option("--level <n>", "compression level (default: zstd 3, gzip 6)")
    .option("--jobs <n>", "chunks compressed at once", String(availableParallelism()))
    .option(
      "--profile <file>",
      "a boot recorded by `edgeboot nbd --record`: its read order becomes the prefetch list",
    )
    .option("--kernel <file>", "kernel to boot this image with (makes the rootfs bootable)")
    .option("--initrd <file>", "initramfs to boot with the kernel (e.g. from `edgeboot initramfs`)")
    .option(
      "--cmdline <args>",
      "kernel arguments of your own; the edge adds edgeboot.* (default: none)",
    )
    .option("--allow-empty", "publish a 0-byte image (refused otherwise: usually a failed build)")
    .action(async (image: string, flags: PublishFlags) => {
      const boot = bootOptions(flags);
      const codec = parseCodec(flags.codec);
      const chunking = parseChunkingSpec(flags.chunking);
      const level =
        flags.level === undefined ? DEFAULT_LEVEL[codec] : parsePositive(flags.level, "--level");
      const jobs = parsePositive(flags.jobs ?? "1", "--jobs");
      const keys = flags.key ? await loadSigningKeys(flags.key) : undefined;
      const prefetchReads = flags.profile
        ? await profileReads(flags.profile, flags.name)
        : undefined;
      const target = await chooseTarget(flags);
      const bar = publishProgressBar();
      try {
        const summary = await publish({
          image,
          name: flags.name,
          target,
          chunking,
          codec,
          level,
          jobs,
          keys,
          prefetchReads,
          boot,
          allowEmpty: flags.allowEmpty === true,
          onProgress: bar.update,
        });
        bar.stop();
        const mbps = summary.bytesRead / 1e6 / Math.max(summary.seconds, 0.001);
        process.stdout.write(
          [
            `published ${summary.name} to ${target.where}`,
            `  image        ${mebibytes(summary.imageSize)} (${summary.imageSize} bytes), ${mbps.toFixed(0)} MB/s`,
            `  chunks       ${summary.chunks} (${formatChunking(chunking)}, ${codec} level ${level}), ${summary.uniqueChunks} distinct`,
            `  new          ${summary.newChunks} chunks, ${mebibytes(summary.bytesUploaded)} uploaded`,
            `  reused       ${summary.reusedChunks} chunks`,
            `  dedup        ${summary.dedupRatio.toFixed(2)}x   compression ${summary.compressionRatio.toFixed(2)}x`,
            `  manifest     ${summary.manifestId}`,
            ...(flags.profile
              ? [
                  `  prefetch     ${summary.prefetchChunks} chunks, in the order ${flags.profile} read them`,
                ]
              : []),
            `  boot         ${bootLine(summary)}`,
            `  ref          ${summary.signed ? "signed" : "unsigned (use --key to sign)"}`,
            "",
          ].join("\n"),
        );
      } finally {
        bar.stop();
        await target.close();
      }
    });
}

/** The boot files asked for; --initrd and --cmdline only make sense with --kernel. */
function bootOptions(flags: PublishFlags): BootFileOptions | undefined {
  if (flags.kernel === undefined) {
    const stray =
      flags.initrd !== undefined
        ? "--initrd"
        : flags.cmdline !== undefined
          ? "--cmdline"
          : undefined;
    if (stray)
      throw new UserError(`${stray} needs --kernel FILE: a rootfs boots from a kernel first`);
    return undefined;
  }
  return { kernel: flags.kernel, initrd: flags.initrd, cmdline: flags.cmdline };
}

/** The summary's line on booting: what was published, or how to make the rootfs bootable. */
function bootLine(summary: PublishSummary): string {
  const { boot } = summary;
  if (!boot) return "not bootable (publish with --kernel to boot it from the edge)";
  const files = bootFileEntries(boot).map(
    ([kind, file]) =>
      `${kind} ${mebibytes(file.size)} (${file.chunks.length} chunk${file.chunks.length === 1 ? "" : "s"})`,
  );
  return `bootable: ${files.join(", ")}, cmdline ${JSON.stringify(boot.cmdline)}`;
}

/** The reads recorded for rootfs `name` in a boot profile file. */
async function profileReads(path: string, name: string): Promise<[number, number][]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UserError(
      `cannot read the profile ${path} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let profile: ReturnType<typeof parseBootProfile>;
  try {
    profile = parseBootProfile(text);
  } catch (error) {
    throw new UserError(`${path}: ${errorText(error)}`);
  }
  const reads = profile.images
    .filter((image) => image.name === name)
    .flatMap((image) => image.reads);
  if (reads.length === 0) {
    const names = profile.images.map((image) => image.name).join(", ") || "none";
    throw new UserError(`${path} records no boot of "${name}" (it has: ${names})`);
  }
  return reads;
}

async function chooseTarget(flags: PublishFlags): Promise<PublishTarget> {
  if (flags.edge && flags.out) throw new UserError("give either --edge URL or --out DIR, not both");
  if (flags.out) return new DirectoryTarget(flags.out);
  if (!flags.edge) throw new UserError("say where to publish: --edge URL or --out DIR");
  return new EdgeTarget(flags.edge, {
    token: await readToken(flags.tokenFile),
  });
}

/** The publish token: the first line of `tokenFile`, else `EDGEBOOT_TOKEN`. */
export async function readToken(tokenFile: string | undefined): Promise<string> {
  if (tokenFile) {
    let text: string;
    try {
      text = await readFile(tokenFile, "utf8");
    } catch (error) {
      throw new UserError(
        `cannot read the token file ${tokenFile} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
    const token = text.split("\n")[0]?.trim() ?? "";
    if (!token) throw new UserError(`the token file ${tokenFile} is empty`);
    return token;
  }
  const token = process.env.EDGEBOOT_TOKEN?.trim();
  if (!token) {
    throw new UserError("no publish token: set EDGEBOOT_TOKEN or pass --token-file PATH");
  }
  return token;
}
