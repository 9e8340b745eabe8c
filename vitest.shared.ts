/**
 * Test-time resolution of the workspace packages to their TypeScript sources, so that a
 * change in a lower tier is seen by the tests of the tiers above without a rebuild.
 * (Published builds and typechecking resolve through each package's `exports` to `dist/`.)
 */
import { fileURLToPath } from "node:url";

const tiers = ["hardware", "os-vm", "libc-malloc", "pymem", "small-object", "memtrace"] as const;

/** Maps every `@mem/<tier>` import to `packages/<tier>/src/index.ts`. */
export const workspaceAliases: Record<string, string> = Object.fromEntries(
  tiers.map((t) => [`@mem/${t}`, fileURLToPath(new URL(`./packages/${t}/src/index.ts`, import.meta.url))]),
);

/**
 * The global setup every package's vitest run uses: a per-run TMPDIR removed at the end
 * (tests leave nothing in the temp directory) and, under `npm run test:live`, the host facts.
 */
export const globalSetup: string[] = [fileURLToPath(new URL("./scripts/vitest-global-setup.ts", import.meta.url))];

/**
 * The per-test time limit of every package's vitest run: generous, because speed is measured
 * by the benchmarks, not by timed tests, and a loaded 2-core machine runs the property tests
 * several times slower than an idle one (vitest's 5 s default failed them under load).
 */
export const testTimeout = 120_000;
