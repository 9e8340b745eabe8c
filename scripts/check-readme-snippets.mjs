#!/usr/bin/env node
/**
 * Type-checks every ```ts block of every README.md in the repository against the built
 * packages (`@mem/*` resolve through node_modules to each package's dist/ types, so run the
 * build first). A block fenced as ```ts signature is an API overview, not code, and is left
 * out. Each block is compiled as its own module, as if it were a file beside its README
 * (so a relative import is written as the reader of that folder would write it); nothing
 * is written to disk. Prints each failing block (README:line) with the compiler's messages;
 * exits 1 if any fails. Usage: node scripts/check-readme-snippets.mjs [README.md ...]
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");

/** Every README.md of the workspace (root, packages/*, apps/* and their subfolders), outside node_modules and dist. */
export function findReadmes(dir = root) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findReadmes(path));
    else if (entry === "README.md") found.push(path);
  }
  return found;
}

/** The ```ts blocks of a markdown text: { line (1-based, of the fence), code, signature }. */
export function tsBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)(\s+\S.*)?$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    blocks.push({ line: start + 1, code: `${body.join("\n")}\n`, signature: /\bsignature\b/.test(open[2] ?? "") });
  }
  return blocks;
}

/** Compiles the snippets as virtual files; returns the diagnostics, formatted, per snippet path. */
export function checkSnippets(snippets) {
  const options = {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts"],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    moduleDetection: ts.ModuleDetectionKind.Force,
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(root, "node_modules", "@types")],
  };
  const files = new Map(snippets.map((s) => [s.path, s.code]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, version, ...rest) =>
    files.has(f) ? ts.createSourceFile(f, files.get(f), version, true) : getSourceFile.call(host, f, version, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const byFile = new Map();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file?.fileName ?? "(options)";
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const text = `${where ? `line ${where.line + 1}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    byFile.set(file, [...(byFile.get(file) ?? []), text]);
  }
  return byFile;
}

function main() {
  const readmes = process.argv.slice(2).length ? process.argv.slice(2).map((f) => resolve(f)) : findReadmes();
  const snippets = [];
  let signatures = 0;
  for (const readme of readmes) {
    for (const block of tsBlocks(readFileSync(readme, "utf8"))) {
      if (block.signature) signatures++;
      else snippets.push({ path: join(dirname(readme), `README.md.line${block.line}.ts`), readme, line: block.line, code: block.code });
    }
  }
  const problems = snippets.length > 0 ? checkSnippets(snippets) : new Map();
  let failed = 0;
  for (const s of snippets) {
    const messages = problems.get(s.path);
    const name = `${relative(root, s.readme)}:${s.line}`;
    if (messages === undefined) console.log(`  ok   ${name}`);
    else {
      failed++;
      console.log(`  FAIL ${name} (a \`\`\`ts block must compile; fence an API overview as \`\`\`ts signature)`);
      for (const m of messages) console.log(`       ${m.replace(/\n/g, "\n       ")}`);
    }
  }
  const other = [...problems.keys()].filter((f) => !snippets.some((s) => s.path === f));
  for (const f of other) console.log(`  FAIL ${f}: ${problems.get(f).join("; ")}`);
  console.log(`README snippets: ${snippets.length - failed} of ${snippets.length} \`\`\`ts blocks compile, ${signatures} marked as signatures, in ${readmes.length} READMEs`);
  process.exitCode = failed > 0 || other.length > 0 ? 1 : 0;
}

if (process.argv[1] === import.meta.filename) main();
