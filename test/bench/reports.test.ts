// The bench reports rendered from fixed measurements (test/bench/report-inputs.ts), compared with
// the text they rendered when it was last checked (test/bench/reports/*.md): a change to a report's
// code or template (bench/templates) that changes its text shows here, without running a
// benchmark. The machine lines and filesystem types are fixed, as is the core count.
import { describe, expect, it, vi } from "vitest";
import {
  bootInput,
  debianInput,
  edgeInput,
  fetchInput,
  publishInput,
  RESULTS_FILES,
} from "./report-inputs.js";

vi.hoisted(() => {
  process.env.EDGEBOOT_BENCH_CACHE = "/cache";
  process.env.EDGEBOOT_BENCH_REPEAT = "3";
});

vi.mock("../../bench/lib/run.mjs", async (importOriginal) => ({
  ...(await importOriginal<Record<string, unknown>>()),
  machineLines: (versions: string[] = []) => [
    "- date: 2026-12-03T12:00:00.000Z",
    "- machine: 2 cores (nproc), Test CPU, 8.0 GiB memory",
    `- ${["Node v20.0.0", "casync 2", ...versions, "edgeboot 0000000"].join("; ")}`,
  ],
  fsType: (path: string) => (path.startsWith("/dev/shm") ? "tmpfs" : "ext4"),
}));

vi.mock("node:os", async (importOriginal) => ({
  ...(await importOriginal<Record<string, unknown>>()),
  availableParallelism: () => 2,
}));

const { render: renderBoot } = await import("../../bench/lib/boot-report.mjs");
const { renderDebian } = await import("../../bench/lib/debian-report.mjs");
const { render: renderEdge } = await import("../../bench/lib/edge-report.mjs");
const { render: renderFetch } = await import("../../bench/lib/fetch-report.mjs");
const { render: renderPublish } = await import("../../bench/lib/publish-report.mjs");
const { summarize } = await import("../../bench/summary.mjs");
const { sectionsNotRendered } = await import("../../bench/lib/template.mjs");

describe("bench reports", () => {
  it("boot: the busybox rows", async () => {
    await expect(renderBoot(bootInput())).toMatchFileSnapshot("reports/boot.md");
    const byHand = { ...bootInput(), nbdArgs: ["--jobs", "32"], peerNote: undefined };
    await expect(renderBoot(byHand)).toMatchFileSnapshot("reports/boot-nbd-args.md");
  });

  it("boot: the Debian rows below the busybox rows, and alone", async () => {
    await expect(renderDebian(debianInput(false))).toMatchFileSnapshot("reports/debian.md");
    await expect(renderDebian(debianInput(true))).toMatchFileSnapshot(
      "reports/debian-standalone.md",
    );
  });

  it("edge, and through Miniflare's entry worker without the cold passes", async () => {
    await expect(renderEdge(edgeInput())).toMatchFileSnapshot("reports/edge.md");
    const run = edgeInput();
    const entry = { ...run, cold: { runs: [] }, settings: { ...run.settings, viaEntry: true } };
    await expect(renderEdge(entry)).toMatchFileSnapshot("reports/edge-entry.md");
  });

  it("fetch, and without the optional runs", async () => {
    await expect(renderFetch(fetchInput())).toMatchFileSnapshot("reports/fetch.md");
    const bare = { ...fetchInput(), disk: [], native: undefined, profiles: [] };
    await expect(renderFetch(bare)).toMatchFileSnapshot("reports/fetch-short.md");
  });

  it("publish, with casync and without", async () => {
    const run = publishInput(true);
    await expect(renderPublish(run.configs, run.images, run.profiles)).toMatchFileSnapshot(
      "reports/publish.md",
    );
    const alone = publishInput(false);
    await expect(renderPublish(alone.configs, alone.images, alone.profiles)).toMatchFileSnapshot(
      "reports/publish-no-casync.md",
    );
  });

  it("summary: the results README", async () => {
    await expect(summarize((file: string) => RESULTS_FILES[file])).toMatchFileSnapshot(
      "reports/summary.md",
    );
  });

  it("renders every section of every template (run last: the reports above render them)", () => {
    expect(sectionsNotRendered()).toEqual([]);
  });
});
