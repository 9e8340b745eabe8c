import { defineConfig } from "vitest/config";
import { globalSetup } from "../../vitest.shared.js";

export default defineConfig({
  test: { include: ["test/**/*.test.ts"], globalSetup, testTimeout: 20_000 },
});
