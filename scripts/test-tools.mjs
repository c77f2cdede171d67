// The host tools `npm test` drives (HOST_TOOLS in scripts/boot/tools.mjs), for `.ci/run` and for
// a person: `node scripts/test-tools.mjs missing-packages` prints the Debian packages this machine
// lacks, one a line (nothing when it lacks none); `node scripts/test-tools.mjs check` prints one
// line per missing tool with its package and the apt-get line, and exits 1 when any is missing.
import { aptInstallLine, findTool, HOST_TOOLS, missingHostTools } from "./boot/tools.mjs";

const missing = missingHostTools();
const packages = [...new Set(missing.map((m) => m.entry.package))];
const command = process.argv[2];

if (command === "missing-packages") {
  for (const name of packages) console.log(name);
} else if (command === "check") {
  if (missing.length === 0) {
    console.log(`all ${HOST_TOOLS.length} host tools the tests drive are here`);
  } else {
    for (const { line } of missing) console.error(line);
    if (!findTool("apt-get")) {
      console.error(
        "this machine has no apt-get: the tests drive Debian's packages (bookworm); run them on Debian",
      );
    } else console.error(`all at once: ${aptInstallLine(packages)}   (or: .ci/run, as root)`);
    process.exitCode = 1;
  }
} else {
  console.error("usage: node scripts/test-tools.mjs missing-packages | check");
  process.exitCode = 2;
}
