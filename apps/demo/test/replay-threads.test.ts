/** The replay of thread records: t/x drive glibc's threads; traces that cannot say where glibc's choice lay get a warning. */
import { TraceStream } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { Replayer } from "../src/replay.js";
import { createStack } from "../src/stack.js";

function replay(lines: string[]): { warnings: string[]; out: string[]; replayer: Replayer } {
  const warnings: string[] = [];
  const out: string[] = [];
  const replayer = new Replayer(createStack({ ramSize: 256 * 1024 * 1024 }), (l) => out.push(l), { warn: (w) => warnings.push(w) });
  const stream = new TraceStream((record, line) => replayer.handle(record, line));
  stream.push(`${["# memtrace v1", "# heap-start 0x555555559000", ...lines].join("\n")}\n`);
  stream.end();
  return { warnings, out, replayer };
}

describe("replay: threads", () => {
  it("t switches glibc's thread: a thread's first block lands in its own heap, at heap+0xb70 as recorded", () => {
    const { warnings, out, replayer } = replay(["# cpus 2", "m libc 100 0x5555555592a0", "n 2", "t 2", "m libc 100 0x7ffff0000b70", "t 1", "x 2"]);
    expect(warnings).toEqual([]);
    expect(replayer.finish().placements).toEqual({ compared: 2, moved: 0, firstMovedLine: null });
    expect(out.filter((l) => /^[ntx] |^# cpus/.test(l))).toEqual(["# cpus 2", "n 2", "t 2", "t 1", "x 2"]);
  });

  it("an older recorder's '# thread N starts allocating' without thread records: one warning", () => {
    const { warnings } = replay(["m libc 10 0x5555555592a0", "# thread 2 starts allocating after event 1", "m libc 100 0x7ffff0000b70", "# thread 3 starts allocating after event 2", "m libc 1 0x7fffe8000b70"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^line 5: the trace names other threads only in comments/);
  });

  it("an exit the recorder could not confirm: a warning naming the thread", () => {
    const { warnings } = replay(["n 2", "t 2", "m libc 10 0x7ffff0000b70", "x 2", "# exit of thread 2 unconfirmed: glibc's exit work for it may come after this line", "t 1", "m libc 10 0x5555555592a0"]);
    expect(warnings).toEqual([expect.stringMatching(/^line 7: the recorder could not confirm that thread 2 had finished exiting here/)]);
  });
});
