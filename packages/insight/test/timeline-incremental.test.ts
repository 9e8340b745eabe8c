import { describe, expect, it } from "vitest";
import { account, Timeline } from "../src/index.js";
import { makeStack } from "./support.js";

/** A timeline over small objects and a few mmapped blocks, keys being the simulated pointers. */
function run(incremental: boolean | "auto", incrementalFrom?: number) {
  const s = makeStack("default", "glibc", 256);
  const t = new Timeline(s, { every: 400, incremental, incrementalFrom }, (key) => key);
  const live: { p: number; domain: "raw" | "obj" }[] = [];
  const requested = new Map<number, number>();
  for (let i = 0; i < 4000; i++) {
    const big = i % 97 === 0;
    const size = big ? 150_000 + i : 24 + (i % 13) * 8;
    const domain = big ? "raw" : "obj";
    const p = s.pymem.malloc(domain, size);
    if (big) s.process.memory.store8(p + size - 1, 1); // the program writes its last byte: the page with the slack is resident
    live.push({ p, domain });
    requested.set(p, size);
    t.allocated(p, size);
    t.afterCall();
  }
  for (let i = 0; i < live.length; i += 3) {
    s.pymem.free(live[i]!.domain, live[i]!.p);
    requested.delete(live[i]!.p);
    t.released(live[i]!.p);
    t.afterCall();
  }
  return { s, r: t.finish(), requested, tracker: t.tracker };
}

describe("Timeline with incremental accounts", () => {
  it("gives the same samples, peak and end as with full accounts", () => {
    const a = run(true);
    const b = run(false);
    expect(a.r.timeline.length).toBeGreaterThan(10);
    expect(a.r.timeline).toEqual(b.r.timeline);
    expect(a.r.peak).toEqual(b.r.peak);
    expect(a.r.end).toEqual(b.r.end);
  });

  it('"auto" turns incremental once the process has the given resident pages, with the same samples', () => {
    const full = run(false);
    const small = run("auto");
    expect(small.tracker).toBeUndefined(); // never 8192 pages here
    const auto = run("auto", 60);
    expect(auto.tracker?.accounts).toBeGreaterThan(0);
    expect(auto.tracker!.accounts).toBeLessThan(auto.r.timeline.length + 2); // not from the first sample
    expect(auto.r.timeline).toEqual(full.r.timeline);
    expect(small.r.timeline).toEqual(full.r.timeline);
    expect(auto.r.end).toEqual(full.r.end);
  });

  it("splits mmapped chunks into payload and slack from the requested sizes it asks for", () => {
    const { s, r, requested } = run(true);
    expect(r.end.account.causes["glibc.mmapped-slack"]).toBeGreaterThan(0);
    expect(r.end.account.causes).toEqual(account(s, { requested }).causes);
  });
});
