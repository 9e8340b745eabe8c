import { defineConfig } from "vite";

/**
 * A static site: relative base (works from any folder of any static host), ES module worker,
 * nothing loaded from elsewhere. `npm run playground` at the root builds and previews it.
 */
export default defineConfig({
  base: "./",
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, reportCompressedSize: true, chunkSizeWarningLimit: 2048 },
  worker: { format: "es" },
  server: { host: "127.0.0.1" },
  preview: { host: "127.0.0.1", port: 4173 },
});
