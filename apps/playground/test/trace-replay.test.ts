import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { unpackMaps } from "@mem/view";
import { describe, expect, it } from "vitest";
import { NotATraceError, replayChunks } from "../src/trace-replay.js";

const at = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const CLI = at("apps/demo/dist/cli.js");
/** Committed real recordings: a C program (glibc only) and CPython 3.8 (256 KiB arenas). */
const HEAP_WORKOUT = at("packages/libc-malloc/test/fixtures/recordings/heap-workout.memtrace.gz");
const LIST_OF_STR = at("apps/demo/test/fixtures/cpython-3.8/list-of-str.memtrace.gz");

async function* chunksOf(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path).pipe(createGunzip());
  stream.setEncoding("utf8");
  for await (const chunk of stream) yield chunk as string;
}

async function* fromText(text: string): AsyncGenerator<string> {
  await Promise.resolve();
  yield text;
}

describe("replayChunks", () => {
  for (const trace of [HEAP_WORKOUT, LIST_OF_STR]) {
    it(`gives the account of mem-demo explain --json for ${trace.split("/").pop()}`, async () => {
      const progress: number[] = [];
      const replay = await replayChunks(chunksOf(trace), { onProgress: (p) => progress.push(p.events) });
      const cli = spawnSync(process.execPath, [CLI, "explain", "--json", trace], { encoding: "utf8", timeout: 120_000 });
      expect(cli.status, cli.stderr).toBe(0);
      const json = JSON.parse(cli.stdout) as { end: { event: number; rssAnon: number; causes: Record<string, number> }; peak: { event: number; rssAnon: number } };
      expect(replay.failure).toBeUndefined();
      expect(replay.json.end.event).toBe(json.end.event);
      expect(replay.json.end.rssAnon).toBe(json.end.rssAnon);
      expect(replay.json.end.causes).toEqual(json.end.causes);
      expect(replay.json.peak.rssAnon).toBe(json.peak.rssAnon);
      // snapshots: from event 0 to the end, increasing, at most 200, the last one's account the end's
      const events = replay.snapshots.map((s) => s.event);
      expect(events[0]).toBe(0);
      expect(events[events.length - 1]).toBe(json.end.event);
      expect([...events].sort((a, b) => a - b)).toEqual(events);
      expect(events.length).toBeLessThanOrEqual(200);
      expect(replay.snapshots[replay.snapshots.length - 1]!.account.rssAnon).toBe(json.end.rssAnon);
      expect(unpackMaps(replay.snapshots[replay.snapshots.length - 1]!.maps).heap.chunks.length).toBeGreaterThan(0);
      expect(progress[progress.length - 1]).toBe(json.end.event);
    }, 120_000);
  }

  it("stops at a call event with the account of mem-demo explain --json --at", async () => {
    for (const at of [1, 100, 5000]) {
      const replay = await replayChunks(chunksOf(LIST_OF_STR), { stopAt: at, maxSnapshots: 2 });
      const cli = spawnSync(process.execPath, [CLI, "explain", "--json", "--at", String(at), LIST_OF_STR], { encoding: "utf8", timeout: 120_000 });
      expect(cli.status, cli.stderr).toBe(0);
      const json = JSON.parse(cli.stdout) as { at: { event: number; rssAnon: number; causes: Record<string, number> } };
      const last = replay.snapshots[replay.snapshots.length - 1]!;
      expect(last.event).toBe(at);
      expect(replay.json.end.event).toBe(json.at.event);
      expect(last.account.rssAnon).toBe(json.at.rssAnon);
      expect(last.account.causes).toEqual(json.at.causes);
    }
  }, 120_000);

  it("spaces the snapshots from the estimated total when the share read is known", async () => {
    const n = 10000;
    const lines = ["# memtrace v1", ...Array.from({ length: n }, (_, i) => `m libc 32 0x${(0x10000 + i * 0x40).toString(16)}`)];
    let given = 0;
    async function* halves(): AsyncGenerator<string> {
      const text = lines.join("\n") + "\n";
      for (let i = 0; i < 10; i++) {
        await Promise.resolve();
        given = (i + 1) / 10;
        yield text.slice((i * text.length) / 10, ((i + 1) * text.length) / 10);
      }
    }
    // told the share of the input pushed so far: 10,000 events / 199 -> every 64 events
    const replay = await replayChunks(halves(), { fractionRead: () => given });
    const events = replay.snapshots.map((s) => s.event);
    expect(events[events.length - 1]).toBe(n);
    expect(events.length).toBeLessThanOrEqual(200);
    expect(events.filter((e) => e > 1024 && e < n && e % 64 !== 0)).toEqual([]);
    expect(events.filter((e) => e > 1024).length).toBeGreaterThan(50);
  });

  it("refuses a file that is not a trace, naming its first line", async () => {
    await expect(replayChunks(fromText("hello world\n"))).rejects.toThrow(NotATraceError);
    await expect(replayChunks(fromText("hello world\n"))).rejects.toThrow("not a memtrace file: line 1 is 'hello world', expected '# memtrace v1'");
  });

  it("keeps the replay up to a malformed line and names the line", async () => {
    const text = "# memtrace v1\nm libc 100 0x1000\nm libc 200 0x2000\nbogus line\nf libc 0x1000\n";
    const replay = await replayChunks(fromText(text));
    expect(replay.failure?.line).toBe(4);
    expect(replay.snapshots[replay.snapshots.length - 1]!.event).toBe(2);
  });

  it("keeps the replay up to a double free and says what glibc said", async () => {
    const text = "# memtrace v1\nm libc 24 0x1000\nf libc 0x1000\nf libc 0x1000\n";
    const replay = await replayChunks(fromText(text));
    expect(replay.failure?.line).toBe(4);
    expect(replay.failure?.message).toMatch(/double free/);
  });
});
