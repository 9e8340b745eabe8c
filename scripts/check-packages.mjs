#!/usr/bin/env node
// Checks every publishable package the way a user will meet it:
//   1. packs it (npm pack) and lints the package with publint and @arethetypeswrong/cli (esm-only);
//   2. installs the tarball, with the tarballs of its @mem dependencies, into a scratch
//      project outside the workspace and runs the first ```js example of its README there.
// Needs the packages built (dist/). Usage: node scripts/check-packages.mjs [package-dir ...]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const dirs = process.argv.slice(2).length
  ? process.argv.slice(2).map((d) => resolve(d))
  : readdirSync(join(root, "packages")).map((d) => join(root, "packages", d));
const manifests = new Map(
  readdirSync(join(root, "packages")).map((d) => {
    const m = JSON.parse(readFileSync(join(root, "packages", d, "package.json"), "utf8"));
    return [m.name, { dir: join(root, "packages", d), manifest: m }];
  }),
);

// A fresh folder per run, so that two runs never pull tarballs from under each other.
const packDir = mkdtempSync(join(tmpdir(), "mem-packs-"));
const tarballs = new Map();
function pack(name) {
  if (!tarballs.has(name)) {
    const { dir } = manifests.get(name);
    const file = run("npm", ["pack", "--silent", "--pack-destination", packDir], dir).trim().split("\n").pop();
    tarballs.set(name, join(packDir, file));
  }
  return tarballs.get(name);
}
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(manifests.get(name).manifest.dependencies ?? {})) {
    if (manifests.has(dep)) closure(dep, seen);
  }
  return seen;
}

let failures = 0;
for (const dir of dirs) {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (manifest.private) continue;
  const name = manifest.name;
  const step = (what, fn) => {
    try {
      fn();
      console.log(`  ok   ${what}`);
    } catch (error) {
      failures++;
      console.log(`  FAIL ${what}\n${String(error.stdout ?? "") + String(error.stderr ?? error.message)}`);
    }
  };
  console.log(name);
  const tarball = pack(name);
  step("publint", () => {
    const out = run(bin("publint"), ["run", "--strict", tarball], root);
    if (/error|warning/i.test(out)) throw Object.assign(new Error(out), { stdout: out });
  });
  step("attw --profile esm-only", () => run(bin("attw"), [tarball, "--profile", "esm-only", "--format", "ascii"], root));
  step("README example runs from the packed tarball", () => {
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!example) throw new Error("README.md has no ```js example");
    const scratch = mkdtempSync(join(tmpdir(), "mem-pack-"));
    try {
      writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
      const deps = [...closure(name)].map(pack);
      run("npm", ["install", "--no-audit", "--no-fund", "--offline", "--ignore-scripts", ...deps], scratch);
      writeFileSync(join(scratch, "example.mjs"), example);
      run(process.execPath, ["example.mjs"], scratch);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
rmSync(packDir, { recursive: true, force: true });
if (failures > 0) {
  console.log(`\n${failures} package check(s) failed`);
  process.exit(1);
}
console.log("\nall package checks passed");
