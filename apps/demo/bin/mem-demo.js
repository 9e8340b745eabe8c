#!/usr/bin/env node
// The mem-demo command: runs the built CLI (dist/), or says how to build it.
import("../dist/cli.js").catch((error) => {
  if (error && error.code === "ERR_MODULE_NOT_FOUND") {
    process.stderr.write("mem-demo: not built yet: run `npm run build` (or `npm run demo`) at the repository root\n");
    process.exit(1);
  }
  throw error;
});
