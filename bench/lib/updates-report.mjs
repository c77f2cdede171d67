// The results file of bench/updates.mjs (bench/results/updates.md), from its measurements.
import { machineLines, x } from "./run.mjs";
import { template } from "./template.mjs";

const TEMPLATE = template("updates");

/** The chunking `edgeboot publish` uses when given none. */
const DEFAULT_CHUNKING = "fixed:256K";

/** @param {number} bytes */
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

/**
 * @param {{
 *   versions: { name: string, what: string, changed?: { files: number, bytes: number, deleted: number, paths: string[] }, casync: { growth: number, indexBytes: number, seconds: number } }[],
 *   images: Record<string, { seconds: number, bytes: number, blocks?: number }[]>,
 *   steps: { chunking: string, mode: string, version: string, newChunks: number, newBytes: number, manifestBytes: number, manifestSentBytes: number, refBytes: number, fetchedChunks: number, fetchedBytes: number, requests: number }[],
 *   chunkings: string[],
 * }} results
 * @returns {string}
 */
export function renderUpdates({ versions, images, steps, chunkings }) {
  const byName = Object.fromEntries(versions.map((v) => [v.name, v]));
  const modeLabel = { fresh: "fresh (`edgeboot image TREE`)", base: "on the previous (`--base`)" };
  const sections = [
    TEMPLATE.section("intro", {
      machine: [...machineLines(), ...versions.map((v) => `- ${v.name}: ${v.what}`)].join("\n"),
    }),
  ];

  const v2 = byName.v2;
  const targetRows = [];
  for (const mode of Object.keys(images)) {
    const step = steps.find(
      (s) => s.chunking === DEFAULT_CHUNKING && s.mode === mode && s.version === "v2",
    );
    if (!step || !v2?.changed) continue;
    const changed = v2.changed.bytes;
    const growth = v2.casync.growth;
    const files = step.fetchedBytes <= 2 * changed;
    const casync = step.fetchedBytes <= growth;
    targetRows.push(
      `| ${modeLabel[mode]} | ${mb(step.fetchedBytes)} | ${mb(step.manifestSentBytes + step.refBytes)} | ${mb(changed)} | ${files ? "yes" : "NO"} (${x(step.fetchedBytes, changed)}) | ${mb(growth)} | ${casync ? "yes" : "NO"} (${x(step.fetchedBytes, growth)}) | ${mb(growth + v2.casync.indexBytes)} (${x(step.fetchedBytes, growth + v2.casync.indexBytes)}) | ${files && casync ? "meets both" : "misses"} |`,
    );
  }
  sections.push(
    TEMPLATE.section("target", { chunking: DEFAULT_CHUNKING, rows: targetRows.join("\n") }),
  );

  const versionRows = versions.map((v) => {
    const c = v.changed;
    return `| ${v.name} | ${c ? c.files : "all"} | ${c ? mb(c.bytes) : "–"} | ${c ? c.deleted : "–"} | ${mb(v.casync.growth)} | ${mb(v.casync.indexBytes)} | ${v.casync.seconds.toFixed(1)} s |`;
  });
  sections.push(TEMPLATE.section("versions", { rows: versionRows.join("\n") }));
  for (const v of versions) {
    if (!v.changed) continue;
    const shown = v.changed.paths.slice(0, 12).map((p) => `\`${p}\``);
    const more = v.changed.paths.length - shown.length;
    const paths = `${shown.join(", ")}${more > 0 ? `, and ${more} more` : ""}`;
    sections.push(TEMPLATE.section("changed-files", { version: v.name, paths }));
  }

  const imageRows = Object.entries(images).flatMap(([mode, series]) =>
    series.map((image, i) => {
      const made = mode === "base" && i === 0 ? "(the fresh v1)" : `${image.seconds.toFixed(1)} s`;
      const blocks =
        image.blocks === undefined ? "–" : `${image.blocks} (${mb(image.blocks * 4096)})`;
      return `| ${modeLabel[mode]} | ${versions[i]?.name} | ${mb(image.bytes)} | ${made} | ${blocks} |`;
    }),
  );
  sections.push(TEMPLATE.section("images", { rows: imageRows.join("\n") }));

  const stepRows = chunkings.flatMap((chunking) =>
    steps
      .filter((step) => step.chunking === chunking)
      .map((s) => {
        const v = byName[s.version];
        const changed = v?.changed ? x(s.fetchedBytes, v.changed.bytes) : "–";
        const casync = v?.changed ? x(s.fetchedBytes, v.casync.growth) : "–";
        return `| ${s.chunking} | ${modeLabel[s.mode]} | ${s.version} | ${s.newChunks} | ${mb(s.newBytes)} | ${mb(s.manifestBytes)} (${mb(s.manifestSentBytes)}) | ${s.fetchedChunks} | ${mb(s.fetchedBytes)} | ${changed} | ${casync} |`;
      }),
  );
  sections.push(TEMPLATE.section("steps", { rows: stepRows.join("\n") }));
  return `${sections.join("\n\n")}\n\n`;
}
