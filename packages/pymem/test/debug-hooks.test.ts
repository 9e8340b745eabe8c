import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PyFatalError, PYMEM_DEBUG_EXTRA_BYTES, type PyMem, type PythonThreadState } from "../src/index.js";
import { liveTitle } from "../../../scripts/host-facts.js";
import { fixture, livePythonSkip, probe } from "./fixtures.js";
import { SCENARIOS } from "./support/fatal-scenarios.js";
import { hexAt, makeStack, type Stack } from "./support/stack.js";

interface BlockFixture {
  presets: Record<string, { allocator: string; blocks: { label: string; size: number; bytes: string; inPlace?: boolean }[]; nested: { label: string; size: number; header32: string }[] }>;
}
interface FatalFixture {
  cases: { case: string; pythonmalloc: string; tracemalloc: boolean; exitStatus: number; p: string | null; stderr: string }[];
}
const blocks = fixture<BlockFixture>("debug-blocks.json");
const fatal = fixture<FatalFixture>("fatal-errors.json");

type Domain = "raw" | "mem" | "obj";

/** Replays a probe_debug.py label; returns [old pointer, new pointer]. */
function replayBlock(py: PyMem, domain: Domain, what: string): [number, number] {
  const m = py.memory;
  switch (what) {
    case "malloc(5)":
      return same(py.malloc(domain, 5));
    case "calloc(2,3)":
      return same(py.calloc(domain, 2, 3));
    case "malloc(0)":
      return same(py.malloc(domain, 0));
    case "realloc(NULL,3)":
      return same(py.realloc(domain, 0, 3));
    case "malloc(4)+'ABCD'; realloc(10)": {
      const p = py.malloc(domain, 4);
      m.write(p, new TextEncoder().encode("ABCD"));
      return [p, py.realloc(domain, p, 10)];
    }
    case "malloc(8)+'ABCDEFGH'; realloc(2)": {
      const p = py.malloc(domain, 8);
      m.write(p, new TextEncoder().encode("ABCDEFGH"));
      return [p, py.realloc(domain, p, 2)];
    }
    default: {
      const r = /^malloc\(200\)\+bytes\(range\(200\)\); realloc\((\d+)\)$/.exec(what);
      if (r === null) throw new Error(`unknown label ${what}`);
      const p = py.malloc(domain, 200);
      m.write(p, Uint8Array.from({ length: 200 }, (_, i) => i));
      return [p, py.realloc(domain, p, Number(r[1]))];
    }
  }
}
const same = (p: number): [number, number] => [p, p];

type PresetBlocks = BlockFixture["presets"][string];

/** Replays every block python3 recorded for `preset` and compares the bytes. */
function compareBlocks(preset: "debug" | "malloc_debug" | "pymalloc_debug", recorded: PresetBlocks): void {
  const stack = makeStack(preset);
  let extraChecked = 0;
  for (const b of recorded.blocks) {
    const [domain, ...rest] = b.label.split(" ");
    const [before, p] = replayBlock(stack.py, domain as Domain, rest.join(" "));
    const length = 16 + b.size + 8;
    expect([b.label, hexAt(stack, p - 16, length)]).toEqual([b.label, b.bytes.slice(0, 2 * length)]);
    // Bytes past the new trailer, up to the old block's end: what realloc left there (0xDD where it
    // erased, intact data elsewhere). Only comparable when both real and simulated realloc stayed
    // in place, and minus the bytes glibc wrote when it split off the tail of a shrunk chunk.
    if (b.inPlace === true && before === p) {
      const oldEnd = /malloc\((\d+)\)/.exec(b.label)![1]!;
      const from = 16 + b.size + 8;
      const to = 16 + Number(oldEnd) + 8;
      const mask = b.label.endsWith("realloc(100)") ? [16 + 120, 16 + 144] : [0, 0];
      const real = [...b.bytes.slice(2 * from, 2 * to).matchAll(/../g)].map((m) => m[0]);
      const sim = [...hexAt(stack, p - 16 + from, to - from).matchAll(/../g)].map((m) => m[0]);
      for (let i = mask[0]! - from; i < mask[1]! - from; i++) real[i] = sim[i] = "..";
      expect([b.label, sim.join("")]).toEqual([b.label, real.join("")]);
      extraChecked++;
    }
    stack.py.free(domain as Domain, p);
  }
  expect(extraChecked).toBeGreaterThanOrEqual(preset === "malloc_debug" ? 9 : 3);
}

const DEBUG_PRESETS = ["debug", "malloc_debug", "pymalloc_debug"] as const;

describe("debug block layout, byte for byte against python3", () => {
  for (const preset of DEBUG_PRESETS) {
    it(`${preset}: every recorded block`, () => compareBlocks(preset, blocks.presets[preset]!));
  }

  const skip = livePythonSkip();
  it.skipIf(skip !== null)(liveTitle("the same comparison against python3 running now", skip), () => {
    for (const preset of DEBUG_PRESETS) {
      const out = execFileSync("python3", [probe("probe_debug.py")], { encoding: "utf8", env: { ...process.env, PYTHONMALLOC: preset } });
      compareBlocks(preset, JSON.parse(out) as PresetBlocks);
    }
  });

  it("free fills the whole n + 24 bytes with 0xDD before the underlying free", () => {
    const stack = makeStack("malloc_debug");
    const p = stack.py.memMalloc(40);
    stack.py.memFree(p);
    // SimLibc writes its 16-byte free-list link at q = p - 16 (as glibc's tcache does).
    expect(hexAt(stack, p, 40 + 8)).toBe("dd".repeat(48));
    expect(hexAt(stack, p - 16, 16)).not.toContain("dd".repeat(8));
  });

  it("realloc failure keeps the old block intact (header, data, trailer)", () => {
    const stack = makeStack("malloc_debug");
    const p = stack.py.memMalloc(300);
    stack.py.memory.write(p, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
    const before = hexAt(stack, p - 16, 300 + 24);
    expect(stack.py.memRealloc(p, 2 ** 40)).toBe(0);
    expect(hexAt(stack, p - 16, 300 + 24)).toBe(before);
    expect(stack.py.memRealloc(p, 2 ** 63)).toBe(0);
    expect(hexAt(stack, p - 16, 300 + 24)).toBe(before);
  });

  it("the underlying request is n + 24 bytes, and n > PY_SSIZE_T_MAX - 24 is refused before it", () => {
    const stack = makeStack("malloc_debug");
    const p = stack.py.rawMalloc(100);
    expect(stack.libc.usableSize(p - 16)).toBeGreaterThanOrEqual(100 + PYMEM_DEBUG_EXTRA_BYTES);
    const calls = stack.libc.calls;
    expect(stack.py.rawMalloc(2 ** 63 - 1024)).toBe(0); // a double just below 2^63: reaches libc, which fails
    expect(stack.libc.calls).toBe(calls + 1);
  });
});

/** The thread section python3 printed, parsed back into a thread state. */
function threadOf(stderr: string): PythonThreadState | undefined {
  const m = /\nCurrent thread 0x([0-9a-f]{16}) \(most recent call first\):\n((?: {2}File .*\n)*)/.exec(stderr);
  if (m === null) return undefined;
  const frames = [...m[2]!.matchAll(/ {2}File "(.*)", line (\d+) in (.*)\n/g)].map((f) => ({
    filename: f[1]!,
    lineno: Number(f[2]),
    name: f[3]!,
  }));
  return { threadId: parseInt(m[1]!, 16), frames };
}

describe("fatal error reports, text for text against python3 (PYTHONMALLOC=debug / malloc_debug)", () => {
  for (const rec of fatal.cases.filter((c) => !c.tracemalloc)) {
    it(`${rec.case} (${rec.pythonmalloc})`, () => {
      const scenario = SCENARIOS[rec.case]!;
      const thread = threadOf(rec.stderr);
      const stack: Stack = makeStack(rec.pythonmalloc as "debug", { threadState: () => thread! });
      const { p, n } = scenario.setup(stack.py);
      let thrown: unknown;
      try {
        scenario.fail(stack.py, p);
      } catch (error) {
        thrown = error;
      }
      expect(rec.exitStatus).toBe(-6); // SIGABRT
      expect(thrown).toBeInstanceOf(PyFatalError);
      const error = thrown as PyFatalError;
      let expected = rec.stderr;
      if (rec.p !== null && !rec.case.startsWith("gil")) {
        const realP = BigInt(rec.p);
        expected = expected
          .replaceAll(`tail=0x${(realP + BigInt(n)).toString(16)}`, `tail=0x${(p + n).toString(16)}`)
          .replaceAll(`p=0x${realP.toString(16)}`, `p=0x${p.toString(16)}`);
        expect(error.address).toBe(p);
      }
      expect(error.report).toBe(expected);
      expect(error.message).toBe(expected);
    });
  }
});

describe("nested decoration: pymalloc's RAW fallback goes through the RAW debug hooks", () => {
  for (const preset of ["debug", "malloc_debug", "pymalloc_debug"] as const) {
    it(`${preset}: the 16 bytes before the header match python3 where they are decoration`, () => {
      const stack = makeStack(preset);
      for (const rec of blocks.presets[preset]!.nested) {
        const d = rec.label.startsWith("mem") ? "mem" : "obj";
        const p = stack.py.malloc(d, rec.size);
        const inner = rec.header32.slice(0, 32);
        // A second 'r' header exists exactly when python3 showed one; otherwise those bytes are the allocator's.
        if (/^[0-9a-f]{16}72(fd){7}$/.test(inner)) expect([rec.label, hexAt(stack, p - 32, 16)]).toEqual([rec.label, inner]);
        else expect(hexAt(stack, p - 32, 16), rec.label).not.toMatch(/72(fd){7}$/);
        expect([rec.label, hexAt(stack, p - 16, 16)]).toEqual([rec.label, rec.header32.slice(32)]);
        stack.py.free(d, p);
      }
    });
  }
});

describe("GIL checks of the MEM and OBJ hooks", () => {
  it("every MEM/OBJ entry point names its own C function; RAW does not check", () => {
    const stack = makeStack("debug");
    const p = stack.py.memMalloc(8);
    stack.py.setGilHeld(false);
    const funcOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as PyFatalError).func;
      }
      return "no error";
    };
    expect(funcOf(() => stack.py.memMalloc(1))).toBe("_PyMem_DebugMalloc");
    expect(funcOf(() => stack.py.objectCalloc(1, 1))).toBe("_PyMem_DebugCalloc");
    expect(funcOf(() => stack.py.memRealloc(p, 9))).toBe("_PyMem_DebugRealloc");
    expect(funcOf(() => stack.py.objectFree(p))).toBe("_PyMem_DebugFree");
    expect(funcOf(() => stack.py.rawFree(stack.py.rawMalloc(10)))).toBe("no error");
    stack.py.setGilHeld(true);
    stack.py.memFree(p); // nothing was changed by the refused calls
  });
});
