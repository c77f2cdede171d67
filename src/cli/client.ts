import type { Command } from "commander";
import { DEFAULT_CACHE_LIMIT, DiskCache, defaultCacheDir } from "../client/disk-cache.js";
import { fetchImage } from "../client/fetch-image.js";
import { BootClient } from "../client/index.js";
import { mebibytes } from "../lib/units.js";
import { loadPublicKey } from "../publish/keys.js";
import { parsePositive, parseSizeFlag } from "./flags.js";
import { fetchProgressBar } from "./progress.js";

/**
 * The default ceiling of downloads in flight: enough 256 KiB chunks to fill a link of ~150 MB/s
 * at 200 ms of round trip; the adaptive window only goes as high as the link rewards.
 */
const DEFAULT_JOBS = 128;

/** Options shared by the commands that read from edges. */
export interface ClientFlags {
  mirror: string[];
  cacheDir?: string;
  cacheLimit?: string;
  trust?: string;
  jobs?: string;
}

/** Adds the options of {@link ClientFlags} to a command. */
export function withClientOptions(command: Command): Command {
  return command
    .option(
      "--mirror <url>",
      "another edge or static mirror, tried in order after EDGE (repeatable)",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option("--cache-dir <dir>", `local chunk cache (default: ${defaultCacheDir()})`)
    .option("--cache-limit <size>", "cache size limit, e.g. 8G or 500M", "8G")
    .option(
      "--trust <key>",
      "public key file (edgeboot keygen's .pub): refuse refs not signed by it",
    )
    .option(
      "--jobs <n>",
      "most downloads in flight: the number adapts to the link (wider on a long round trip, up to what it carries)",
      String(DEFAULT_JOBS),
    );
}

/** Builds a boot client from EDGE and the shared options. */
export async function clientFrom(edge: string, flags: ClientFlags): Promise<BootClient> {
  return new BootClient({
    edges: [edge, ...flags.mirror],
    cacheDir: flags.cacheDir,
    cacheLimit: parseSizeFlag(flags.cacheLimit ?? "8G", "--cache-limit"),
    trustKey: flags.trust ? await loadPublicKey(flags.trust) : undefined,
    inFlight: parsePositive(flags.jobs ?? String(DEFAULT_JOBS), "--jobs"),
    log: (line) => process.stderr.write(`edgeboot: ${line}\n`),
  });
}

/** `edgeboot ls`, `edgeboot fetch` and `edgeboot cache`. */
export function clientCommands(program: Command): void {
  withClientOptions(
    program
      .command("ls")
      .description("list the root filesystems an edge offers")
      .argument("<edge>", "edge URL"),
  ).action(async (edge: string, flags: ClientFlags) => {
    const client = await clientFrom(edge, flags);
    try {
      const rows = (await client.list()).map((r) => [
        r.name,
        mebibytes(r.size),
        String(r.chunks),
        r.published,
        r.signed ? "signed" : "unsigned",
        r.bootable ? "yes" : "no",
        r.manifest,
      ]);
      const header = ["NAME", "SIZE", "CHUNKS", "PUBLISHED", "REF", "BOOTABLE", "MANIFEST"];
      process.stdout.write(table([header, ...rows]));
    } finally {
      await client.close();
    }
  });

  withClientOptions(
    program
      .command("fetch")
      .description("download a whole image, checked against its manifest; cached chunks are reused")
      .argument("<edge>", "edge URL")
      .argument("<name>", "rootfs name")
      .requiredOption("-o, --output <file>", "where to write the image"),
  ).action(async (edge: string, name: string, flags: ClientFlags & { output: string }) => {
    const client = await clientFrom(edge, flags);
    const bar = fetchProgressBar();
    try {
      const s = await fetchImage(client, name, flags.output, { onProgress: bar.update });
      bar.stop();
      const mbps = s.imageSize / 1e6 / Math.max(s.seconds, 0.001);
      process.stdout.write(
        [
          `fetched ${name} to ${flags.output}`,
          `  image        ${mebibytes(s.imageSize)} (${s.imageSize} bytes), ${mbps.toFixed(0)} MB/s`,
          `  chunks       ${s.chunks}: ${s.downloaded} downloaded (${mebibytes(s.downloadedBytes)}), ${s.cached} from the cache`,
          `  sha256       ${s.sha256} (matches the manifest)`,
          `  manifest     ${s.manifestId}`,
          "",
        ].join("\n"),
      );
    } finally {
      bar.stop();
      await client.close();
    }
  });

  program
    .command("cache")
    .description("show what the local chunk cache holds; --prune trims it to its limit")
    .option("--cache-dir <dir>", `local chunk cache (default: ${defaultCacheDir()})`)
    .option(
      "--prune [size]",
      "remove least recently used chunks down to SIZE (default: --cache-limit)",
    )
    .option("--cache-limit <size>", "cache size limit, e.g. 8G or 500M", "8G")
    .action(async (flags: { cacheDir?: string; prune?: string | true; cacheLimit: string }) => {
      const limit = parseSizeFlag(flags.cacheLimit, "--cache-limit");
      const cache = new DiskCache(flags.cacheDir ?? defaultCacheDir(), limit);
      if (flags.prune !== undefined) {
        const target = flags.prune === true ? limit : parseSizeFlag(flags.prune, "--prune");
        const result = await cache.prune(target);
        process.stdout.write(
          `pruned ${result.removedChunks} chunks (${mebibytes(result.freedBytes)}) down to ${mebibytes(target)}\n`,
        );
      }
      const usage = await cache.usage();
      process.stdout.write(
        [
          `cache        ${cache.root}`,
          `  chunks     ${usage.chunks} (${mebibytes(usage.chunkBytes)} compressed)`,
          `  manifests  ${usage.manifests} (${mebibytes(usage.manifestBytes)})`,
          `  limit      ${mebibytes(limit)}${limit === DEFAULT_CACHE_LIMIT ? " (default)" : ""}`,
          "",
        ].join("\n"),
      );
    });
}

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((r) => (r[column] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}
