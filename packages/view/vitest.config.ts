import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { globalSetup, testTimeout, workspaceAliases } from "../../vitest.shared.js";

export default defineConfig({
  // the insight layer from its sources too, so that every tier is one copy (instanceof checks)
  resolve: { alias: { ...workspaceAliases, "@mem/insight": fileURLToPath(new URL("../insight/src/index.ts", import.meta.url)) } },
  test: { include: ["test/**/*.test.ts"], globalSetup, testTimeout },
});
