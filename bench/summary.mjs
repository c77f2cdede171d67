#!/usr/bin/env node
// The one results file of `npm run bench`: bench/results/README.md, made from the results files
// the benchmarks wrote. For each: its run's date, machine and command line, and its targets
// table with every figure beside the peer measured in the same run, copied as written, with a
// link to the file that has the rest (commands, every table, profiles, notes).
//
//   node bench/summary.mjs        (the last step of `npm run bench`)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT } from "./lib/run.mjs";
import { template } from "./lib/template.mjs";

const RESULTS = join(ROOT, "bench", "results");
const prose = template("summary");

/** Each benchmark of the suite: its results file, and what it compares. */
const BENCHMARKS = [
  ["publish.md", "Publishing: `edgeboot publish` against `casync make`", "npm run bench:publish"],
  [
    "fetch.md",
    "Fetching: `edgeboot fetch` against `casync extract`; NBD read latency",
    "npm run bench:fetch",
  ],
  ["edge.md", "The edge: edgeboot's Worker against a bare Worker and nginx", "npm run bench:edge"],
  [
    "boot.md",
    "Booting a guest: cold, warm and prefetched, behind 50 ms (busybox roots through edgeboot nbd on the host; a Debian root through the fetcher inside the guest)",
    "npm run bench:boot",
  ],
  ["load.md", "Load held: every byte checked under load", "npm run bench:load"],
  [
    "updates.md",
    "Updates: what a new version of a Debian root costs to publish and to fetch",
    "npm run bench:updates",
  ],
];

/** Every `## ` section whose heading starts with `heading` (a regular expression), in order. */
function sections(text, heading) {
  const found = [];
  for (const match of text.matchAll(new RegExp(`^## ${heading}`, "gm"))) {
    const rest = text.slice(match.index);
    const end = rest.slice(3).search(/^## /m);
    found.push((end < 0 ? rest : rest.slice(0, end + 3)).trim());
  }
  return found;
}

function headerLines(text) {
  return text
    .split("\n")
    .filter((line) => /^- (date|machine|Node)/.test(line))
    .join("\n");
}

/**
 * The results README: `readResult(file)` gives the text of a results file, undefined when it has
 * not been written.
 */
export function summarize(readResult) {
  const out = [prose.section("intro"), ""];
  for (const [file, title, command] of BENCHMARKS) {
    out.push(prose.section("benchmark", { title, command, file }), "");
    const text = readResult(file);
    if (text === undefined) {
      out.push(prose.section("not-run"), "");
      continue;
    }
    const header = headerLines(text);
    if (header) out.push(header, "");
    const targets = ["Targets?\\b", "What .+ would take"].flatMap((heading) =>
      sections(text.split("<!-- hand-written notes")[0], heading),
    );
    for (const target of targets) out.push(target.replace(/^## /, "### "), "");
    if (targets.length === 0)
      out.push(text.split("<!--")[0].split("\n").slice(2).join("\n").trim(), "");
  }
  return `${out.join("\n").trim()}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const read = (file) => {
    const path = join(RESULTS, file);
    return existsSync(path) ? readFileSync(path, "utf8") : undefined;
  };
  writeFileSync(join(RESULTS, "README.md"), summarize(read));
  process.stdout.write("wrote bench/results/README.md\n");
}
