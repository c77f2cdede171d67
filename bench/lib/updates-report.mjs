// The results file of bench/updates.mjs (bench/results/updates.md), from its measurements.
import { machineLines, x } from "./run.mjs";

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
  const lines = [
    "# Updates: what a new version of a Debian root costs",
    "",
    "`npm run bench:updates` (bench/updates.mjs). Three versions of a Debian bookworm root built with",
    "mmdebstrap (scripts/boot/debian.mjs), each made into an ext4 image fresh and on the previous",
    "version's image, published in turn (one edge and one directory store per series and chunking)",
    "and fetched by a client whose cache holds the previous version (`edgeboot fetch --cache-dir`)",
    "from the edge Worker in Miniflare, through a proxy counting the body bytes on the wire. The",
    "client asks for the manifest gzip-encoded and the Worker sends it so; chunks are compressed",
    "frames and go as stored.",
    "",
    ...machineLines(),
    ...versions.map((v) => `- ${v.name}: ${v.what}`),
    "",
  ];

  const v2 = byName.v2;
  lines.push(
    `## Target: one package (v1 → v2), default chunking (${DEFAULT_CHUNKING})`,
    "",
    "A warm client fetches at most 2× the changed files' bytes and at most 1.0× casync's directory-tree",
    "store growth. Fetched = the new manifest (gzip-encoded) and ref + the chunks the cache lacked; a",
    "casync client fetches its new index (.caidx) besides the store's new chunks, shown for comparison.",
    "",
    "| image built | warm client fetched | of which manifest + ref | changed files | ≤ 2× changed files | casync store growth | ≤ 1.0× casync | casync growth + .caidx | verdict |",
    "|---|---:|---:|---:|---|---:|---|---:|---|",
  );
  for (const mode of Object.keys(images)) {
    const step = steps.find(
      (s) => s.chunking === DEFAULT_CHUNKING && s.mode === mode && s.version === "v2",
    );
    if (!step || !v2?.changed) continue;
    const changed = v2.changed.bytes;
    const growth = v2.casync.growth;
    const files = step.fetchedBytes <= 2 * changed;
    const casync = step.fetchedBytes <= growth;
    lines.push(
      `| ${modeLabel[mode]} | ${mb(step.fetchedBytes)} | ${mb(step.manifestSentBytes + step.refBytes)} | ${mb(changed)} | ${files ? "yes" : "NO"} (${x(step.fetchedBytes, changed)}) | ${mb(growth)} | ${casync ? "yes" : "NO"} (${x(step.fetchedBytes, growth)}) | ${mb(growth + v2.casync.indexBytes)} (${x(step.fetchedBytes, growth + v2.casync.indexBytes)}) | ${files && casync ? "meets both" : "misses"} |`,
    );
  }

  lines.push(
    "",
    "## The versions",
    "",
    "Changed files: regular files and symlinks new or different in content (compared byte for byte), their sizes added up.",
    "",
    "| version | files new or changed | their bytes | entries deleted | casync directory store growth | its .caidx | casync make |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const v of versions) {
    const c = v.changed;
    lines.push(
      `| ${v.name} | ${c ? c.files : "all"} | ${c ? mb(c.bytes) : "–"} | ${c ? c.deleted : "–"} | ${mb(v.casync.growth)} | ${mb(v.casync.indexBytes)} | ${v.casync.seconds.toFixed(1)} s |`,
    );
  }
  for (const v of versions) {
    if (!v.changed) continue;
    const shown = v.changed.paths.slice(0, 12).map((p) => `\`${p}\``);
    const more = v.changed.paths.length - shown.length;
    lines.push(
      "",
      `${v.name}'s changed files: ${shown.join(", ")}${more > 0 ? `, and ${more} more` : ""}.`,
    );
  }

  lines.push(
    "",
    "## The images",
    "",
    "| image built | version | size | made in | 4 KiB blocks differing from the previous version |",
    "|---|---|---:|---:|---:|",
  );
  for (const [mode, series] of Object.entries(images)) {
    series.forEach((image, i) => {
      const made = mode === "base" && i === 0 ? "(the fresh v1)" : `${image.seconds.toFixed(1)} s`;
      const blocks =
        image.blocks === undefined ? "–" : `${image.blocks} (${mb(image.blocks * 4096)})`;
      lines.push(
        `| ${modeLabel[mode]} | ${versions[i]?.name} | ${mb(image.bytes)} | ${made} | ${blocks} |`,
      );
    });
  }

  lines.push(
    "",
    "## Publishing each version, and what a warm client fetches",
    "",
    "Uploaded: the new chunk objects' bytes in the store (compressed). Manifest: its size as stored",
    "(JSON) and as the edge sent it, gzip-encoded. Fetched: the body bytes the edge sent to",
    "`edgeboot fetch` of the new version with the previous version's cache (v1: cold), manifest and",
    "ref included.",
    "",
    "| chunking | image built | version | new chunks | uploaded | manifest (sent gzip) | fetched chunks | fetched | × changed files | × casync growth |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const chunking of chunkings) {
    for (const s of steps.filter((step) => step.chunking === chunking)) {
      const v = byName[s.version];
      const changed = v?.changed ? x(s.fetchedBytes, v.changed.bytes) : "–";
      const casync = v?.changed ? x(s.fetchedBytes, v.casync.growth) : "–";
      lines.push(
        `| ${s.chunking} | ${modeLabel[s.mode]} | ${s.version} | ${s.newChunks} | ${mb(s.newBytes)} | ${mb(s.manifestBytes)} (${mb(s.manifestSentBytes)}) | ${s.fetchedChunks} | ${mb(s.fetchedBytes)} | ${changed} | ${casync} |`,
      );
    }
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
}
