import type { Command } from "commander";
import { mebibytes } from "../lib/units.js";
import { EdgeTarget } from "../publish/edge-target.js";
import { collectGarbage } from "../publish/gc.js";
import { parseDuration } from "./flags.js";
import { readToken } from "./publish.js";

interface GcFlags {
  edge: string;
  tokenFile?: string;
  grace: string;
  dryRun?: boolean;
}

/** Objects listed by name, each before it is deleted; the rest are counted. */
const SHOWN = 20;

/** How each kind of dead object is named in the list, padded alike. */
const DEAD_LABELS = { chunks: "chunk   ", manifests: "manifest", pending: "pending " } as const;

/** `edgeboot gc --edge URL`: sweep what no ref reaches. */
export function gcCommand(program: Command): void {
  program
    .command("gc")
    .description("delete the chunks and manifests no ref (or its history) reaches")
    .requiredOption("--edge <url>", "edge to collect (token from EDGEBOOT_TOKEN or --token-file)")
    .option("--token-file <path>", "file whose first line is the edge's publish token")
    .option(
      "--grace <duration>",
      "never delete what is younger than this (a publish in progress)",
      "24h",
    )
    .option("--dry-run", "show what would be deleted, delete nothing")
    .action(async (flags: GcFlags) => {
      const graceMs = parseDuration(flags.grace, "--grace");
      const edge = new EdgeTarget(flags.edge, { token: await readToken(flags.tokenFile) });
      const tty = process.stderr.isTTY;
      let found = 0;
      try {
        const result = await collectGarbage({
          edge,
          graceMs,
          dryRun: flags.dryRun === true,
          log: (line) => process.stderr.write(`edgeboot gc: ${line}\n`),
          onDead: (o) => {
            found++;
            if (found <= SHOWN) {
              process.stdout.write(
                `  ${DEAD_LABELS[o.kind]}   ${o.id} (${o.size} bytes, ${o.uploaded})\n`,
              );
            }
            if (tty && found > SHOWN) {
              process.stderr.write(`\r${flags.dryRun ? "found" : "deleting"} ${found}`);
            }
          },
        });
        if (tty && found > SHOWN) process.stderr.write("\n");
        const lines = [
          `${flags.dryRun ? "would delete" : "deleted"} ${result.dead} objects (${mebibytes(result.deadBytes)}) from ${edge.where}`,
          `  live       ${result.refs} refs, ${result.liveManifests} manifests, ${result.liveChunks} chunk references`,
          `  grace      ${flags.grace}: nothing younger is touched`,
          ...(result.dead > SHOWN ? [`  (the first ${SHOWN} are listed above)`] : []),
          "",
        ];
        process.stdout.write(lines.join("\n"));
      } finally {
        await edge.close();
      }
    });
}
