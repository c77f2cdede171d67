// A preload (`node --import dist/cli/cpu-profile.js edgeboot.js ...`) that profiles the process
// from before the CLI bundle loads, as `node --cpu-prof` does, but writes the profile when the
// process gets SIGUSR2 as well as when it exits: the fetcher inside a booting machine never exits
// (it serves the root until the power goes), so --cpu-prof, which writes at exit only, cannot
// profile it. The directory is named by EDGEBOOT_CPU_PROF_DIR (made if missing); nothing happens
// without it. The file is named as --cpu-prof names its own (CPU.DATE.TIME.PID.0.SEQ.cpuprofile)
// and written under a temporary name first, so a reader that sees it sees all of it.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

/** The sampling interval in microseconds: --cpu-prof's default. */
const INTERVAL_US = 1000;

const dir = process.env.EDGEBOOT_CPU_PROF_DIR;
if (dir) startProfiler(dir);

function startProfiler(into: string): void {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: INTERVAL_US });
  session.post("Profiler.start");
  let written = 0;
  const write = () => {
    session.post("Profiler.stop", (error, result) => {
      if (error) {
        process.stderr.write(`edgeboot: cpu profile: ${error.message}\n`);
        return;
      }
      mkdirSync(into, { recursive: true });
      const now = new Date().toISOString().replace(/[-:]/g, "");
      const name = `CPU.${now.slice(0, 8)}.${now.slice(9, 15)}.${process.pid}.0.${String(++written).padStart(3, "0")}.cpuprofile`;
      const path = join(into, name);
      writeFileSync(`${path}.partial`, JSON.stringify(result.profile));
      renameSync(`${path}.partial`, path);
      process.stderr.write(`edgeboot: cpu profile written to ${path}\n`);
      session.post("Profiler.start");
    });
  };
  process.on("SIGUSR2", write);
  process.once("exit", write);
}
