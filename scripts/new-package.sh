#!/usr/bin/env bash
# Lays down the boilerplate of one tier package (used once per tier; kept for the next tier).
# usage: scripts/new-package.sh <dir-name> <description> [dependency ...]
set -euo pipefail
dir=$1; desc=$2; shift 2
pkg="packages/$dir"
mkdir -p "$pkg/src" "$pkg/test" "$pkg/bench"
deps=""
for d in "$@"; do deps="$deps\"@mem/$d\": \"^0.0.0\","; done
deps="{${deps%,}}"
cat > "$pkg/package.json" <<JSON
{
  "name": "@mem/$dir",
  "version": "0.0.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "engines": { "node": ">=20.19" },
  "repository": { "type": "git", "url": "git+https://github.com/mem-stack/mem.git", "directory": "$pkg" },
  "keywords": ["memory", "allocator", "cpython", "simulator"],
  "exports": {
    ".": { "types": "./dist/index.d.ts", "import": "./dist/index.js" },
    "./package.json": "./package.json"
  },
  "main": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "files": ["dist", "README.md"],
  "publishConfig": { "access": "public" },
  "dependencies": $deps,
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc --noEmit -p tsconfig.json",
    "lint": "eslint .",
    "test": "vitest run",
    "bench": "node --import tsx bench/run.ts"
  }
}
JSON
cat > "$pkg/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src", "test", "bench", "*.config.ts"]
}
JSON
cat > "$pkg/tsup.config.ts" <<'TS'
import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  target: "es2022",
  dts: { compilerOptions: { ignoreDeprecations: "6.0" } },
  clean: true,
  sourcemap: true,
  treeshake: true,
});
TS
cat > "$pkg/vitest.config.ts" <<'TS'
import { defineConfig } from "vitest/config";
import { globalSetup, workspaceAliases } from "../../vitest.shared.js";

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: { include: ["test/**/*.test.ts"], globalSetup },
});
TS
