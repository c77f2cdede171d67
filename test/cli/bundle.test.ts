// dist/cli/edgeboot.js (scripts/build-cli.mjs): one file with the npm packages the CLI uses, so
// that a fetcher starting in a booting machine compiles one script instead of finding and
// compiling some 140 modules; only the zstd binding (a native addon) is loaded from node_modules.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const BUNDLE = join(import.meta.dirname, "../../dist/cli/edgeboot.js");

describe("the CLI bundle", () => {
  it("imports only Node's modules and the zstd binding at run time", async () => {
    const text = await readFile(BUNDLE, "utf8");
    // import ... from "x", import("x"), require("x") and createRequire(...)("x").
    const specifiers = new Set(
      [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\)\(\s*)"([^"]+)"/g)].map(
        (m) => m[1] as string,
      ),
    );
    const packages = [...specifiers].filter((s) => !isBuiltin(s) && !s.startsWith("."));
    expect(packages).toEqual(["@toondepauw/node-zstd"]);
  });

  it("loads no module from node_modules to start `edgeboot nbd`, and leaves undici's fetch out", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgeboot-bundle-"));
    const probe = join(dir, "probe.cjs");
    await writeFile(
      probe,
      'process.on("exit", () => console.error(JSON.stringify(Object.keys(require.cache))));\n',
    );
    const { stdout, stderr } = await run(process.execPath, [
      ...["--require", probe, BUNDLE, "nbd", "--help"],
    ]).finally(() => rm(dir, { recursive: true, force: true }));
    expect(stdout).toContain("--pin <NAME=MANIFEST,PUBLISHED[,SIG]>");
    const loaded = JSON.parse(stderr.trim().split("\n").at(-1) as string) as string[];
    expect(loaded.filter((path) => path.includes("node_modules"))).toEqual([]);
    const text = await readFile(BUNDLE, "utf8");
    expect(text).toContain("undici/lib/dispatcher/agent.js");
    expect(text).not.toContain("undici/lib/web/fetch/index.js");
  });
});
