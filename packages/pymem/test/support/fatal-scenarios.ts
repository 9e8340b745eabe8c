import type { PyMem } from "../../src/index.js";

/**
 * The misuse scenarios of test/live/probe_fatal.py, replayed on a simulated PyMem. Each returns
 * the data pointer of the block the report is about (0 for none) and performs the failing call
 * through `fail()`, so the caller can catch what the simulated CPython throws.
 */
export interface Scenario {
  /** The block's data pointer and its requested size. */
  setup(py: PyMem): { p: number; n: number };
  /** The call that makes CPython abort. */
  fail(py: PyMem, p: number): void;
}

const bytes = (s: string) => new TextEncoder().encode(s);

export const SCENARIOS: Record<string, Scenario> = {
  "bad-id-mem-obj": {
    setup: (py) => ({ p: fill(py, py.memMalloc(16), 16, 0x43), n: 16 }),
    fail: (py, p) => py.objectFree(p),
  },
  "bad-id-raw-mem": {
    setup: (py) => ({ p: fill(py, py.rawMalloc(16), 16, 0x44), n: 16 }),
    fail: (py, p) => py.memFree(p),
  },
  "bad-id-obj-raw-realloc": {
    setup: (py) => ({ p: fill(py, py.objectMalloc(3), 3, 0x45), n: 3 }),
    fail: (py, p) => void py.rawRealloc(p, 10),
  },
  "underflow-p-1": {
    setup: (py) => {
      const p = fill(py, py.memMalloc(16), 16, 0x42);
      py.memory.store8(p - 1, 0);
      return { p, n: 16 };
    },
    fail: (py, p) => py.memFree(p),
  },
  "underflow-p-8": {
    setup: (py) => {
      const p = fill(py, py.memMalloc(16), 16, 0x42);
      py.memory.store8(p - 8, 0x21);
      return { p, n: 16 };
    },
    fail: (py, p) => py.memFree(p),
  },
  "underflow-realloc": {
    setup: (py) => {
      const p = fill(py, py.objectMalloc(9), 9, 0x46);
      py.memory.store8(p - 3, 0x11);
      py.memory.store8(p - 7, 0x22);
      return { p, n: 9 };
    },
    fail: (py, p) => void py.objectRealloc(p, 20),
  },
  "overflow-1": {
    setup: (py) => {
      const p = py.memMalloc(16);
      py.memory.write(p, bytes("0123456789abcdefX"));
      return { p, n: 16 };
    },
    fail: (py, p) => py.memFree(p),
  },
  "overflow-40": {
    setup: (py) => {
      const p = py.memMalloc(40);
      py.memory.write(p, Uint8Array.from({ length: 40 }, (_, i) => 0x61 + i));
      py.memory.store8(p + 42, 0x99);
      return { p, n: 40 };
    },
    fail: (py, p) => py.memFree(p),
  },
  "overflow-0": {
    setup: (py) => {
      const p = py.objectMalloc(0);
      py.memory.store8(p + 7, 0);
      return { p, n: 0 };
    },
    fail: (py, p) => py.objectFree(p),
  },
  "overflow-raw-9": {
    setup: (py) => {
      const p = py.rawMalloc(9);
      py.memory.write(p, bytes("abcdefghijk"));
      return { p, n: 9 };
    },
    fail: (py, p) => void py.rawRealloc(p, 4),
  },
  "gil-malloc": {
    setup: () => ({ p: 0, n: 0 }),
    fail: (py) => {
      py.setGilHeld(false);
      py.memMalloc(10);
    },
  },
  "gil-obj-free": {
    setup: (py) => ({ p: py.objectMalloc(10), n: 10 }),
    fail: (py, p) => {
      py.setGilHeld(false);
      py.objectFree(p);
    },
  },
};

function fill(py: PyMem, p: number, n: number, byte: number): number {
  py.memory.fill(p, n, byte);
  return p;
}
