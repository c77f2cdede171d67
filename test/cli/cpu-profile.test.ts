// dist/cli/cpu-profile.js: the preload that profiles a process that never exits (the fetcher in a
// booting machine), writing a --cpu-prof-shaped profile when it gets SIGUSR2.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CPU_PROFILE_ENV } from "../../src/publish/initramfs/init-script.js";
import { tempDir } from "./edge.js";

const PRELOAD = join(import.meta.dirname, "../../dist/cli/cpu-profile.js");
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
});
afterAll(() => remove?.());

/** Runs a busy Node process under the preload; `signal` after it said it is ready. */
function profiled(env: Record<string, string>, signal: boolean): Promise<string> {
  const script = `let x = 0; const busy = () => { for (let i = 0; i < 2e6; i++) x += i; };
setInterval(busy, 5); console.log("ready"); setTimeout(() => process.exit(0), 1500);`;
  const child = spawn(process.execPath, ["--import", PRELOAD, "-e", script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdout.once("data", () => {
    if (signal) setTimeout(() => child.kill("SIGUSR2"), 300);
  });
  return new Promise((resolve) => child.on("close", () => resolve(stderr)));
}

describe("the CPU profiler preload", () => {
  it("writes a profile on SIGUSR2 without ending the process, and another at exit", async () => {
    const into = join(dir, "prof");
    const said = await profiled({ [CPU_PROFILE_ENV]: into }, true);
    const files = readdirSync(into).sort();
    expect(files).toHaveLength(2);
    for (const file of files) {
      expect(file).toMatch(/^CPU\.\d{8}\.\d{6}\.\d+\.0\.\d{3}\.cpuprofile$/);
      const profile = JSON.parse(readFileSync(join(into, file), "utf8"));
      expect(profile.samples.length).toBe(profile.timeDeltas.length);
      expect(profile.nodes.length).toBeGreaterThan(1);
    }
    expect(said).toContain(`cpu profile written to ${join(into, files[0] as string)}`);
  });

  it("does nothing without its directory in the environment", async () => {
    const said = await profiled({ [CPU_PROFILE_ENV]: "" }, false);
    expect(said).toBe("");
    expect(existsSync(join(dir, "none"))).toBe(false);
  });
});
