import { defineConfig } from "vitest/config";
import { globalSetup, testTimeout, workspaceAliases } from "../../vitest.shared.js";

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: { include: ["test/**/*.test.ts"], globalSetup, testTimeout },
});
