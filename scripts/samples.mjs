// What `npm start` publishes to an empty local edge, and what it prints afterwards: the tar sample
// (always: nothing it needs is outside Node) and the bootable sample (scripts/boot/sample.mjs:
// Debian's qemu, busybox, e2fsprogs, nbd-client, socat, iPXE ROM and cloud kernel), or, where
// those are missing, the reason and the apt-get line. The boot sample's test publishes with this
// same function and boots the command `startHelp` prints.
import { join } from "node:path";
import { edgeboot } from "./boot/cli.mjs";
import {
  BOOT_SAMPLE_MARKER,
  BOOT_SAMPLE_NAME,
  bootSampleCommand,
  bootSampleMissing,
  publishBootSample,
} from "./boot/sample.mjs";
import { writeSampleRootfs } from "./sample-rootfs.mjs";

/** The tar sample's rootfs name. */
export const TAR_SAMPLE_NAME = "sample";

/**
 * @typedef {object} SamplesOutcome
 * @property {boolean} bootable whether the bootable sample is published
 * @property {string[]} why     when it is not: why, one line each (missing tools, or the error)
 */

/**
 * Publishes the tar sample, then the bootable sample, to `edge`, each unless `present` names it
 * already, keeping their files in `dir` (the bootable sample's signing key too:
 * `dir/sample-signing.key`, made once).
 * @param {{ edge: string, token: string, dir: string, present?: string[],
 *   log?: (line: string) => void }} options
 * @returns {Promise<SamplesOutcome>}
 */
export async function publishSamples({ edge, token, dir, present = [], log = () => {} }) {
  if (!present.includes(TAR_SAMPLE_NAME)) {
    const image = join(dir, "sample-rootfs.tar");
    await writeSampleRootfs(image);
    log(`publishing the tar sample as '${TAR_SAMPLE_NAME}'`);
    await edgeboot(["publish", image, "--name", TAR_SAMPLE_NAME, "--edge", edge], {
      EDGEBOOT_TOKEN: token,
    });
  }
  if (present.includes(BOOT_SAMPLE_NAME)) return { bootable: true, why: [] };
  const missing = bootSampleMissing();
  if (missing.length > 0) return { bootable: false, why: missing };
  try {
    log(`building the bootable sample '${BOOT_SAMPLE_NAME}' (about a minute the first time)`);
    await publishBootSample({
      edge,
      token,
      workDir: join(dir, "sample-boot"),
      keyFile: join(dir, "sample-signing.key"),
      log: (line) => log(`  ${line}`),
    });
    return { bootable: true, why: [] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { bootable: false, why: message.split("\n").slice(0, 6) };
  }
}

/**
 * What `npm start` prints once the edge runs: how to look at what it serves, and the one command
 * that boots the bootable sample (or why there is none).
 * @param {{ edge: string, token: string, bootable: boolean, why?: string[] }} options
 * @returns {string}
 */
export function startHelp({ edge, token, bootable, why = [] }) {
  const port = Number(new URL(edge).port || 80);
  const lines = [
    "",
    `edgeboot edge on ${edge} (publish token: ${token}, from .dev.vars)`,
    `  open in a browser:     ${edge}/   (every rootfs, its versions and the commands to use it)`,
    `  list what it serves:   node bin/edgeboot.js ls ${edge}`,
    `  fetch the tar sample:  node bin/edgeboot.js fetch ${edge} ${TAR_SAMPLE_NAME} -o sample.img`,
    `  serve it over NBD:     node bin/edgeboot.js nbd ${edge}     (then: nbdinfo --list nbd://127.0.0.1:10809)`,
    `  publish an image:      EDGEBOOT_TOKEN=${token} node bin/edgeboot.js publish IMAGE --name NAME --edge ${edge}`,
    "",
  ];
  if (bootable) {
    lines.push(
      `Boot '${BOOT_SAMPLE_NAME}' from this edge, with nothing but iPXE in the machine (qemu, no disk; the`,
      `guest reaches the edge as http://10.0.2.100 only; it prints "${BOOT_SAMPLE_MARKER}" and powers off):`,
      "",
      `  ${bootSampleCommand(port).command}`,
      "",
    );
  } else {
    lines.push(
      `No bootable sample: ${why[0] ?? "it could not be built"}`,
      ...why.slice(1).map((line) => `  ${line}`),
      `Then run npm start again: it publishes '${BOOT_SAMPLE_NAME}' when it is missing.`,
      "",
    );
  }
  return lines.join("\n");
}
