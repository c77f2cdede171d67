// bench/results/updates.md rendered from fixed measurements, compared with the text it rendered
// when it was last checked (reports/updates.md): a change to bench/lib/updates-report.mjs or its
// template (bench/templates/updates.md) that changes the report shows here without a benchmark run.
import { describe, expect, it, vi } from "vitest";

vi.mock("../../bench/lib/run.mjs", async (importOriginal) => ({
  ...(await importOriginal<Record<string, unknown>>()),
  machineLines: () => [
    "- date: 2026-12-03T12:00:00.000Z",
    "- machine: 2 cores (nproc), Test CPU, 8.0 GiB memory",
    "- Node v20.0.0; casync 2; edgeboot 0000000",
  ],
}));

const { renderUpdates } = await import("../../bench/lib/updates-report.mjs");
const { sectionsNotRendered } = await import("../../bench/lib/template.mjs");

const casync = (growth: number) => ({ growth, indexBytes: 150_000, seconds: 12.3 });

/** Three versions, as bench/updates.mjs measures them: v1 whole, v2 one package, v3 one file. */
function updatesInput() {
  const paths = Array.from({ length: 14 }, (_, i) => `usr/lib/file-${i}`);
  const versions = [
    { name: "v1", what: "the boot root (125 packages)", casync: casync(95_000_000) },
    {
      name: "v2",
      what: "v1 + iputils-ping (one small package)",
      changed: { files: 14, bytes: 330_000, deleted: 0, paths },
      casync: casync(410_000),
    },
    {
      name: "v3",
      what: "v2 with etc/systemd/journald.conf changed",
      changed: { files: 1, bytes: 1_500, deleted: 1, paths: ["etc/systemd/journald.conf"] },
      casync: casync(9_000),
    },
  ];
  const series = (seconds: number) =>
    versions.map((_, i) => ({ seconds, bytes: 469_762_048, blocks: i === 0 ? undefined : 90 }));
  const images = { fresh: series(3.5), base: series(2.1) };
  const steps = ["fixed:256K", "cdc:16K/64K/256K"].flatMap((chunking) =>
    (["fresh", "base"] as const).flatMap((mode) =>
      versions.map((v, i) => ({
        chunking,
        mode,
        version: v.name,
        newChunks: i === 0 ? 1104 : mode === "base" ? 3 : 400,
        newBytes: i === 0 ? 95_000_000 : mode === "base" ? 310_000 : 70_000_000,
        manifestBytes: 120_300,
        manifestSentBytes: 40_600,
        refBytes: 400,
        fetchedChunks: i === 0 ? 1104 : mode === "base" ? 3 : 400,
        fetchedBytes: i === 0 ? 95_100_000 : mode === "base" ? 350_000 : 70_430_000,
        requests: 5,
      })),
    ),
  );
  return { versions, images, steps, chunkings: ["fixed:256K", "cdc:16K/64K/256K"] };
}

describe("bench/results/updates.md", () => {
  it("renders the targets, versions, images and steps", async () => {
    await expect(renderUpdates(updatesInput())).toMatchFileSnapshot("reports/updates.md");
  });

  it("renders every section of its template", () => {
    expect(sectionsNotRendered()).toEqual([]);
  });
});
