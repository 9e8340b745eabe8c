import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts", "src/browser.ts"],
    format: ["esm"],
    target: "es2022",
    dts: { compilerOptions: { ignoreDeprecations: "6.0" } },
    clean: true,
    sourcemap: true,
    treeshake: true,
    // each entry stands alone: browser.js imports nothing, so a page can inline it
    splitting: false,
  },
  {
    // the renderers as one classic script for a page: `MemView.renderArenaMap(...)`
    entry: { view: "src/browser.ts" },
    format: ["iife"],
    globalName: "MemView",
    target: "es2020",
    minify: true,
    sourcemap: false,
  },
]);
