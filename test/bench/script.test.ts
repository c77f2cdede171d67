// bench/lib/script.mjs: the frame the benchmark scripts share.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CACHE, notesMarker, ROOT } from "../../bench/lib/run.mjs";
import { benchDirs, saveReport } from "../../bench/lib/script.mjs";

const SCRIPT = new URL("../../bench/lib/script.mjs", import.meta.url).href;

/** Runs `body` as an ES module that has runScript imported; returns its exit and output. */
function runModule(body: string) {
  const source = `import { runScript } from ${JSON.stringify(SCRIPT)};\n${body}`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", source], {
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("runScript", () => {
  it("runs the cleanups latest first after main, and exits 0", () => {
    const r = runModule(`
      const cleanups = [async () => console.log("first"), async () => console.log("second")];
      await runScript("bench/x.mjs", async () => console.log("main"), cleanups);
      console.log("not reached");`);
    expect(r).toMatchObject({ status: 0, stdout: "main\nsecond\nfirst\n" });
  });

  it("exits 1 with the error's stack when main throws, after every cleanup, even one that throws", () => {
    const r = runModule(`
      const cleanups = [async () => console.log("cleaned"), async () => { throw new Error("x"); }];
      setInterval(() => {}, 1000); // a server left running does not keep it alive
      await runScript("bench/x.mjs", async () => { throw new Error("boom"); }, cleanups);`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("cleaned\n");
    expect(r.stderr).toMatch(/^\nbench\/x\.mjs failed: Error: boom\n {4}at /);
  });
});

describe("saveReport", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgeboot-bench-script-"));
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the report above the notes the previous file kept, and prints it", () => {
    const path = join(dir, "results", "x.md");
    const printed = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    saveReport("bench/x.mjs", path, "# first\n");
    expect(readFileSync(path, "utf8")).toBe("# first\n");
    writeFileSync(path, `# old\n\n${notesMarker("bench/x.mjs")}\nnotes\n`);
    saveReport("bench/x.mjs", path, "# second\n");
    expect(readFileSync(path, "utf8")).toBe(`# second\n\n${notesMarker("bench/x.mjs")}\nnotes\n`);
    expect(printed).toHaveBeenCalledWith("# second\n");
  });
});

describe("benchDirs", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("names the work, served, scratch and results places of a benchmark", () => {
    vi.stubEnv("EDGEBOOT_BENCH_SCRATCH", "/elsewhere");
    const runs = join(CACHE, "fetch-runs");
    expect(benchDirs("fetch")).toEqual({
      runs,
      www: join(runs, "www"),
      scratch: "/elsewhere",
      results: join(ROOT, "bench", "results", "fetch.md"),
    });
    vi.stubEnv("EDGEBOOT_BENCH_SCRATCH", undefined);
    expect(benchDirs("fetch").scratch).toBe(
      existsSync("/dev/shm") ? "/dev/shm/edgeboot-bench-fetch" : join(runs, "scratch"),
    );
  });
});
