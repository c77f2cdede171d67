#!/usr/bin/env node
// The edgeboot CLI, built from src/cli by `npm run build:cli` (npm ci runs it through `prepare`).
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/edgeboot.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("edgeboot: the CLI is not built yet: run `npm run build:cli`\n");
  process.exit(1);
}
await import(built.href);
