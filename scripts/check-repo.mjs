#!/usr/bin/env node
/**
 * Checks that the repository stands on its own and that its tests clean up after themselves:
 *   - a LICENSE file with the MIT licence every package.json declares;
 *   - the design document in the repository (docs/DESIGN.md), and no relative link of any
 *     markdown file pointing outside the repository or to a file that does not exist;
 *   - `npm run docs` documents every tier package (typedoc.json lists each packages/* with a
 *     src/index.ts);
 *   - every workspace's vitest.config.ts uses the shared global setup (per-run TMPDIR,
 *     removed at the end, so that tests leave no folders in the temp directory);
 *   - every test file that starts a host tool (gcc, cc, setarch, strace, python3, ...)
 *     first establishes what the host is (imports scripts/host-facts.ts, directly or through
 *     the record tests' support.js), and `npm test` leaves the live comparisons to
 *     `npm run test:live` (turbo's test task declares MEM_LIVE).
 * Prints one line per problem; exits 1 if there is any. Usage: node scripts/check-repo.mjs
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const problems = [];
const read = (path) => readFileSync(join(root, path), "utf8");

const workspaces = ["packages", "apps"].flatMap((group) =>
  existsSync(join(root, group)) ? readdirSync(join(root, group)).map((d) => `${group}/${d}`).filter((d) => existsSync(join(root, d, "package.json"))) : [],
);

// the licence
if (!existsSync(join(root, "LICENSE"))) problems.push("LICENSE: missing (the packages say MIT)");
else if (!/^MIT License\b/.test(read("LICENSE"))) problems.push("LICENSE: not the MIT licence the packages declare");
for (const dir of [".", ...workspaces]) {
  const manifest = JSON.parse(read(join(dir, "package.json")));
  if (manifest.license !== "MIT") problems.push(`${dir}/package.json: license is ${manifest.license ?? "missing"}, not MIT`);
}

// the design document and links
if (!existsSync(join(root, "docs", "DESIGN.md"))) problems.push("docs/DESIGN.md: missing (the READMEs cite it)");

/** Markdown files of the repository, outside node_modules, dist and generated docs/api. */
function markdownFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    if (["node_modules", "dist", "api", "coverage"].includes(entry) || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path));
    else if (entry.endsWith(".md")) found.push(path);
  }
  return found;
}
for (const file of markdownFiles(root)) {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z]+:|^#|^mailto:/i.test(target)) continue;
    const path = resolve(dirname(file), decodeURIComponent(target.split("#")[0]));
    const name = relative(root, file);
    if (relative(root, path).startsWith("..")) problems.push(`${name}: link ${target} points outside the repository`);
    else if (!existsSync(path)) problems.push(`${name}: link ${target} points to nothing`);
  }
}

// API documentation covers every tier
const typedoc = JSON.parse(read("typedoc.json"));
for (const dir of workspaces.filter((d) => d.startsWith("packages/") && existsSync(join(root, d, "src", "index.ts")))) {
  if (!typedoc.entryPoints.includes(dir)) problems.push(`typedoc.json: entryPoints lacks ${dir} (npm run docs would leave it out)`);
}

// tests clean their temporary folders
for (const dir of workspaces) {
  const config = join(dir, "vitest.config.ts");
  if (existsSync(join(root, config)) && !/\bglobalSetup\b/.test(read(config))) {
    problems.push(`${config}: no globalSetup from vitest.shared.ts (tests would leave folders in the temp directory)`);
  }
}

// live comparisons establish the host first, and run only under npm run test:live
const HOST_TOOL = /\b(?:execFileSync|execSync|spawnSync|spawn|execFile)\(\s*["'`](?:gcc|cc|clang|setarch|strace|ltrace|python3?(?:\.\d+)?|ldd|getconf)["'`]/;
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? testFiles(path) : entry.endsWith(".test.ts") ? [path] : [];
  });
}
for (const dir of workspaces) {
  for (const file of testFiles(join(root, dir, "test"))) {
    const text = readFileSync(file, "utf8");
    if (HOST_TOOL.test(text) && !/host-facts|\/support\.js"/.test(text)) {
      problems.push(`${relative(root, file)}: starts a host tool without establishing the host first (scripts/host-facts.ts: liveSkip or hostSkip)`);
    }
  }
}
const turboTest = JSON.parse(read("turbo.json")).tasks?.test ?? {};
if (!(turboTest.env ?? []).includes("MEM_LIVE")) problems.push("turbo.json: the test task does not declare MEM_LIVE (live comparisons would not reach vitest, or share cached results)");

for (const p of problems) console.log(`  FAIL ${p}`);
console.log(`repository checks: ${problems.length === 0 ? "all passed" : `${problems.length} problem${problems.length === 1 ? "" : "s"}`}`);
process.exitCode = problems.length === 0 ? 0 : 1;
