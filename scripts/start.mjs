// `npm start`: the edge under `wrangler dev` on 127.0.0.1:8787 with local R2 persisted in .wrangler/,
// and, when that store is empty, a sample root filesystem published to it so there is something
// real to serve.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSampleRootfs } from "./sample-rootfs.mjs";

const EDGE = "http://127.0.0.1:8787";
const token = /^PUBLISH_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1]?.trim();

const dev = spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", "8787"], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

async function ready() {
  for (let i = 0; i < 300; i++) {
    try {
      const response = await fetch(`${EDGE}/v1/rootfs`);
      if (response.ok) return (await response.json()).rootfs;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the edge did not answer on ${EDGE} within a minute`);
}

const rootfs = await ready();
if (rootfs.length === 0) {
  if (!existsSync("dist/cli/edgeboot.js")) {
    spawn(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
  }
  mkdirSync(".wrangler", { recursive: true });
  const image = join(".wrangler", "sample-rootfs.tar");
  await writeSampleRootfs(image);
  console.log("\nedgeboot: the local store is empty; publishing a sample rootfs named 'sample'\n");
  const publish = spawn(
    process.execPath,
    ["bin/edgeboot.js", "publish", image, "--name", "sample", "--edge", EDGE],
    { stdio: "inherit", env: { ...process.env, EDGEBOOT_TOKEN: token } },
  );
  await new Promise((resolve) => publish.on("exit", resolve));
}
console.log(`
edgeboot edge on ${EDGE} (publish token: ${token}, from .dev.vars)
  list what it serves:   node bin/edgeboot.js ls ${EDGE}
  fetch the sample:      node bin/edgeboot.js fetch ${EDGE} sample -o sample.img
  serve it over NBD:     node bin/edgeboot.js nbd ${EDGE}     (then: nbdinfo --list nbd://127.0.0.1:10809)
  the raw API:           curl ${EDGE}/v1/rootfs/sample
  publish an image:      EDGEBOOT_TOKEN=${token} node bin/edgeboot.js publish IMAGE --name NAME --edge ${EDGE}
`);
