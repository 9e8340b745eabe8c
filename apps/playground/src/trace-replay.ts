/**
 * A recorded trace replayed in the browser, the way `mem-demo explain` and `report` replay
 * it (mem-demo's Replayer, the insight layer's Timeline, the view layer's maps), from text
 * chunks instead of a file: the Web Worker feeds it the decompressed stream of a dropped file.
 *
 *   chunks ─► header (first comment lines) ─► stack with the recorded settings
 *          ─► TraceStream ─► Replayer ─► Timeline (every K events) ─► explain --json's object
 *                                    └─► maps + account every S events (S doubles when full)
 *
 * Pure of the DOM and of Node: tested in Node on the committed recordings.
 */
import { countSyscalls, explainJson, narrate, Timeline, type ExplainJson, type SyscallCounts, type TimelineResult } from "@mem/insight";
import { MEMTRACE_HEADER, MemtraceSyntaxError, TraceStream, type TraceRecord } from "@mem/memtrace";
import { collectMaps, packMaps, type PackedMaps } from "@mem/view";
import { createStack, fromHeaderLine, HEADER_MAX_LINES, parseTraceHeader, replaySettings, ReplayError, Replayer } from "mem-demo/browser";

/** The account of one snapshot, as the page lists it. */
export interface SnapshotAccount {
  /** RssAnon in bytes. */
  readonly rssAnon: number;
  /** RssAnon by cause. */
  readonly causes: Readonly<Record<string, number>>;
  /** Usable bytes of the live blocks. */
  readonly liveUsable: number;
  /** Live blocks. */
  readonly liveBlocks: number;
}

/** The maps and the account after a call event. */
export interface TraceSnapshot {
  /** Call events replayed. */
  readonly event: number;
  /** The maps, packed (unpack with `unpackMaps` of @mem/view). */
  readonly maps: PackedMaps;
  /** The account at that event. */
  readonly account: SnapshotAccount;
}

/** How far the replay has got. */
export interface ReplayProgress {
  /** Lines read. */
  readonly lines: number;
  /** Call events replayed. */
  readonly events: number;
}

/** What a replay produced. */
export interface TraceReplay {
  /** Lines about the settings taken from the header, and warnings. */
  readonly notes: readonly string[];
  /** Snapshots in event order; the last is the end (or where the replay stopped). */
  readonly snapshots: readonly TraceSnapshot[];
  /** The insight layer's timeline. */
  readonly timeline: TimelineResult;
  /** `mem-demo explain --json`'s object for the same replay. */
  readonly json: ExplainJson;
  /** The plain-language paragraph about the end. */
  readonly paragraph: string;
  /** Lines read. */
  readonly lines: number;
  /** Where a failing trace stopped (the replay up to there is kept). */
  readonly failure: { readonly line: number; readonly message: string } | undefined;
}

/** Options of {@link replayChunks}. */
export interface ReplayChunksOptions {
  /** Timeline sample interval. @defaultValue 10000 (explain's) */
  every?: number;
  /** Snapshots kept. @defaultValue 200 */
  maxSnapshots?: number;
  /** Told after each chunk. */
  onProgress?: (progress: ReplayProgress) => void;
  /**
   * The share of the input read so far (0..1), when the caller knows it (bytes of the file):
   * the snapshot spacing is then set from the estimated total at once, instead of taking
   * snapshots that the thinning would throw away.
   */
  fractionRead?: () => number;
  /** Stop right after this call event: the end (and the last snapshot) is the state there, as `explain --at`. */
  stopAt?: number;
}

/** Thrown from the event handler to stop reading at {@link ReplayChunksOptions.stopAt}. */
class StopReading extends Error {}

/** A file that is not a memtrace: its first line is not `# memtrace v1`. */
export class NotATraceError extends Error {
  override readonly name = "NotATraceError";
}

const CALLS = new Set(["malloc", "calloc", "realloc", "free", "memalign"]);

/** Replays the trace whose text arrives in `chunks`. @throws {@link NotATraceError}, TraceSettingsError, read errors of the stream */
export async function replayChunks(chunks: AsyncIterable<string>, options: ReplayChunksOptions = {}): Promise<TraceReplay> {
  const iterator = chunks[Symbol.asyncIterator]();
  // the header: the comment lines at the start
  let head = "";
  let done = false;
  while (!done && !headerComplete(head)) {
    const r = await iterator.next();
    if (r.done) done = true;
    else head += r.value;
  }
  const firstLine = head.slice(0, head.indexOf("\n") >= 0 ? head.indexOf("\n") : head.length).replace(/\r$/, "");
  if (firstLine !== MEMTRACE_HEADER) {
    const shown = firstLine.length > 60 ? `${firstLine.slice(0, 60)}…` : firstLine;
    throw new NotATraceError(`not a memtrace file: line 1 is '${shown.replace(/[^\x20-\x7e]/g, "?")}', expected '${MEMTRACE_HEADER}'`);
  }
  const settings = replaySettings(parseTraceHeader(head.split("\n").slice(0, HEADER_MAX_LINES)));
  const notes = [fromHeaderLine(settings), ...settings.warnings].filter((l) => l !== "");
  const watch: { timeline?: Timeline; counts?: SyscallCounts } = {};
  const stack = createStack({
    pythonMalloc: settings.pythonMalloc,
    pymallocVersion: settings.pymallocVersion,
    glibc: settings.glibc,
    wrapProcess: (process) => {
      const counted = countSyscalls(process, (call, args) => watch.timeline?.onSyscall(call, args));
      watch.counts = counted.counts;
      return counted.process;
    },
  });
  let simulated: (key: number) => number = () => 0;
  const timeline = new Timeline(stack, { every: options.every ?? 10000, syscalls: watch.counts }, (key) => simulated(key));
  watch.timeline = timeline;

  const max = Math.max(2, options.maxSnapshots ?? 200);
  const snapshots: TraceSnapshot[] = [];
  let spacing = 1;
  const snap = (event: number) => {
    const maps = collectMaps(stack);
    const a = maps.account;
    snapshots.push({ event, maps: packMaps(event, maps.arenas, maps.heap, maps.pages), account: { rssAnon: a.rssAnon, causes: a.causes, liveUsable: a.liveUsable, liveBlocks: a.liveBlocks } });
  };
  snap(0);
  const onEvent = (r: TraceRecord): void => {
    if (!timeline.follow(r)) return;
    timeline.afterCall();
    const event = timeline.callsSeen;
    if (event % spacing !== 0) return;
    const fraction = options.fractionRead?.() ?? 0;
    if (fraction > 0 && fraction < 1) {
      // estimated events in the whole trace / snapshots wanted, rounded up to a power of two
      const wanted = Math.ceil(event / fraction / (max - 1));
      while (spacing < wanted) spacing *= 2;
      if (event % spacing !== 0) return;
    }
    if (snapshots.length >= max - 1) {
      spacing *= 2;
      const keep = snapshots.filter((s) => s.event % spacing === 0);
      snapshots.length = 0;
      snapshots.push(...keep);
      if (event % spacing !== 0) return;
    }
    snap(event);
  };
  const onEventOrStop = (r: TraceRecord): void => {
    onEvent(r);
    if (options.stopAt !== undefined && timeline.callsSeen >= options.stopAt && CALLS.has(r.kind)) throw new StopReading();
  };
  const replayer = new Replayer(stack, undefined, { onEvent: onEventOrStop });
  simulated = (key) => replayer.simulatedPointer(key);
  const stream = new TraceStream((record, line) => replayer.handle(record, line));
  let failure: ReplayError | undefined;
  const push = (chunk: string | undefined) => {
    try {
      if (chunk === undefined) stream.end();
      else stream.push(chunk);
    } catch (error) {
      if (error instanceof MemtraceSyntaxError) throw new ReplayError(error.line, error);
      throw error;
    }
  };
  const stopped = (error: unknown) => error instanceof StopReading || (error instanceof ReplayError && error.cause instanceof StopReading);
  try {
    if (options.stopAt === 0) throw new StopReading();
    push(head);
    options.onProgress?.({ lines: stream.lines, events: timeline.callsSeen });
    while (!done) {
      const r = await iterator.next();
      if (r.done) break;
      push(r.value);
      options.onProgress?.({ lines: stream.lines, events: timeline.callsSeen });
    }
    push(undefined);
  } catch (error) {
    if (!stopped(error)) {
      if (!(error instanceof ReplayError)) throw error;
      failure = error;
    }
  }
  const result = timeline.finish();
  if (snapshots[snapshots.length - 1]?.event !== timeline.callsSeen) snap(timeline.callsSeen);
  const where = failure ? { event: timeline.callsSeen, line: failure.line, error: failure.message } : undefined;
  const paragraph = narrate(result.end, failure ? `where the replay stopped (event ${result.end.event})` : options.stopAt !== undefined ? `at call event ${result.end.event}` : "at the end");
  return {
    notes,
    snapshots,
    timeline: result,
    json: explainJson(result, where),
    paragraph,
    lines: stream.lines,
    failure: failure ? { line: failure.line, message: failure.message } : undefined,
  };
}

/** Whether `text` holds the whole header: a line that is not a comment, or HEADER_MAX_LINES lines. */
function headerComplete(text: string): boolean {
  let start = 0;
  for (let n = 0; n < HEADER_MAX_LINES; n++) {
    const end = text.indexOf("\n", start);
    if (end < 0) return false;
    if (text.charCodeAt(start) !== 35) return true; // not '#'
    start = end + 1;
  }
  return true;
}
