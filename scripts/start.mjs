// `npm start`: the edge under `wrangler dev` on 127.0.0.1:8787 with local R2 persisted in .wrangler/,
// and, when they are missing from that store, the samples published to it (scripts/samples.mjs: a
// tar, and a root filesystem that boots from the edge under qemu), so there is something real to
// serve; then it prints how to look at them and the one command that boots the bootable one.
//
// No PUBLIC_URL: the edge writes its links (iPXE scripts, the dashboard's commands) on the origin
// each request came to, so the guest, which reaches it as http://10.0.2.100 (qemu's guestfwd), gets
// URLs it can reach, and a browser on this host gets http://127.0.0.1:8787 ones. The boot menu's
// default is the bootable sample (BOOT_MENU_DEFAULT, set here for wrangler dev only).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { BOOT_SAMPLE_NAME } from "./boot/sample.mjs";
import { publishSamples, startHelp } from "./samples.mjs";

const EDGE = "http://127.0.0.1:8787";
const token = /^PUBLISH_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1]?.trim() ?? "";

const dev = spawn(
  "npx",
  [
    ...["wrangler", "dev", "--ip", "127.0.0.1", "--port", "8787"],
    ...["--var", `BOOT_MENU_DEFAULT:${BOOT_SAMPLE_NAME}`],
  ],
  { stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

/** @returns {Promise<{ name: string }[]>} what the edge serves, once it answers */
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

const present = (await ready()).map((r) => r.name);
if (!existsSync("dist/cli/edgeboot.js")) {
  execFileSync(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
}
mkdirSync(".wrangler", { recursive: true });
const outcome = await publishSamples({
  edge: EDGE,
  token,
  dir: ".wrangler",
  present,
  log: (line) => console.log(`edgeboot: ${line}`),
});
console.log(startHelp({ edge: EDGE, token, ...outcome }));
