// @ts-check
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-bitwise": "off",
    },
  },
  {
    // The tier packages run anywhere JavaScript runs: no Node built-ins in their sources.
    files: ["packages/*/src/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "fs", "path", "os", "child_process", "zlib"], message: "tier packages use no Node built-ins (DESIGN.md)" }] }],
    },
  },
  {
    // The playground's sources run in the browser (its tests and scripts run in Node).
    files: ["apps/playground/src/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "fs", "path", "os", "child_process", "zlib"], message: "the playground runs in browsers: no Node built-ins" }] }],
    },
  },
  {
    files: ["**/test/**", "**/bench/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
    },
  },
);
