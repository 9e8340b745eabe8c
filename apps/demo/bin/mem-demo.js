#!/usr/bin/env node
// The mem-demo command: runs the built CLI (dist/), or says how to build it.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("mem-demo: not built yet: run `npm run build` (or `npm run demo`) at the repository root\n");
  process.exit(1);
}
await import(cli.href);
