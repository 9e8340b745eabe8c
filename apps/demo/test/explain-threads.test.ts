/**
 * explain on a multi-threaded C trace (thread-waves, 15 thread heaps): the thread heaps'
 * resident bytes go to glibc's causes, not other.anon, and the malloc_trim(0) dry run over
 * all arenas equals what one malloc_trim(0) at the last event does (compare trim-every=N).
 */
import { describe, expect, it } from "vitest";
import { compareTrace } from "../src/compare-command.js";
import { parseCompareSettings } from "../src/compare-settings.js";
import { explainTrace } from "../src/explain-command.js";
import { LIBC_RECORDINGS } from "./support-fixtures.js";

const WAVES = `${LIBC_RECORDINGS}thread-waves.memtrace.gz`;

describe("explain: thread heaps", () => {
  it("thread-waves: every byte of the thread heaps has a glibc cause; the trim dry run is the real trim's drop", { timeout: 300_000 }, async () => {
    const { text } = await explainTrace(WAVES, { ramSize: 512 * 1024 * 1024 });
    expect(text).not.toContain("other.anon");
    expect(text).toMatch(/^glibc\.heap-info +720 /m); // 15 heaps' heap_info, 0x30 each
    expect(text).toMatch(/^glibc\.arena +33120 /m); // 15 malloc_states of 0x898 and their 8-byte pad
    const dry = /malloc_trim\(0\) would drop ([\d.]+) KiB/.exec(text);
    expect(dry).not.toBeNull();
    const outcome = await compareTrace(WAVES, {}, [parseCompareSettings("trim-every=1548")], 10_000);
    const [base, trimmed] = outcome.columns.map((c) => c.figures!);
    expect((base!.endRssAnon - trimmed!.endRssAnon) / 1024).toBe(Number(dry![1]));
    expect(Number(dry![1])).toBe(92);
  });
});
