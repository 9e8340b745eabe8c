/**
 * OutputFile's promise, as a property: whatever is written and however the run ends, the
 * destination holds either what it held before, or the complete output (only when allowed),
 * or a partial output whose last line says why (only where nothing was); no temporary file
 * is left behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { OutputError, OutputFile } from "../src/output-file.js";

const root = mkdtempSync(join(tmpdir(), "mem-demo-output-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("OutputFile", () => {
  it("never loses the previous file and leaves no temporary file, whatever happens", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 200 }), { maxLength: 20 }),
        fc.constantFrom("complete", "partial", "discard"),
        fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        async (chunks, ending, previous, force, gzip) => {
          const dir = join(root, String(n++));
          mkdirSync(dir);
          const path = join(dir, gzip ? "out.memtrace.gz" : "out.memtrace");
          if (previous !== undefined) writeFileSync(path, previous);
          const read = () => {
            const bytes = readFileSync(path);
            return gzip && bytes[0] === 0x1f ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
          };
          let output: OutputFile;
          try {
            output = OutputFile.open(path, { force });
          } catch (error) {
            expect(error).toBeInstanceOf(OutputError);
            expect(previous !== undefined && !force).toBe(true);
            expect(read()).toBe(previous);
            expect(readdirSync(dir)).toHaveLength(1);
            return;
          }
          expect(previous === undefined || force).toBe(true);
          for (const c of chunks) await output.write(c);
          const text = chunks.join("");
          if (ending === "complete") {
            await output.complete();
            expect(read()).toBe(text);
          } else if (ending === "partial") {
            const outcome = await output.partial("interrupted by SIGINT after 3 events");
            if (previous === undefined) {
              expect(outcome).toBe("partial");
              // the partial line is a line of its own
              const sep = text === "" || text.endsWith("\n") ? "" : "\n";
              expect(read()).toBe(`${text}${sep}# partial: interrupted by SIGINT after 3 events\n`);
            } else {
              expect(outcome).toBe("kept-existing");
              expect(read()).toBe(previous);
            }
          } else {
            await output.discard();
            if (previous === undefined) expect(readdirSync(dir)).toEqual([]);
            else expect(read()).toBe(previous);
          }
          expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
