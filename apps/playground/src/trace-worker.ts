/**
 * The Web Worker that replays a dropped trace, so that the page stays responsive: it streams
 * the file (gunzipped by the browser's DecompressionStream when it starts with gzip's magic
 * bytes), replays it with {@link replayChunks}, and posts its progress every 100 ms.
 *
 *   page ──{ file }──► worker ──{ progress }*──► page
 *                             └─{ done, replay } | { error, message }
 */
import { replayChunks, type ReplayChunksOptions, type TraceReplay, type TraceSnapshot } from "./trace-replay.js";

/** A message from the worker to the page. */
export type WorkerMessage =
  | { readonly type: "progress"; readonly read: number; readonly total: number; readonly lines: number; readonly events: number }
  | { readonly type: "done"; readonly replay: TraceReplay; readonly read: number; readonly total: number; readonly ms: number }
  | { readonly type: "at"; readonly snapshot: TraceSnapshot; readonly ms: number }
  | { readonly type: "error"; readonly message: string };

/** The messages the page sends: the file to replay, then (any number of) exact jumps in it. */
export type WorkerRequest = { readonly file: Blob } | { readonly at: number };

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerMessage): void;
}
const scope = self as unknown as WorkerScope;

let opened: Blob | undefined;

scope.onmessage = (event) => {
  const request = event.data;
  if ("file" in request) {
    opened = request.file;
    void replayFile(request.file);
  } else if (opened !== undefined) {
    void replayFile(opened, request.at);
  }
};

/** Replays `file` to its end, or (`stopAt`) to that call event only, for an exact jump. */
async function replayFile(file: Blob, stopAt?: number): Promise<void> {
  const started = performance.now();
  const total = file.size;
  let read = 0;
  let lines = 0;
  let events = 0;
  let last = 0;
  const magic = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  const counted = file.stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const bytes = gzip ? counted.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>) : counted;
  const text = bytes.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>);
  async function* chunks(): AsyncGenerator<string> {
    const reader = text.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  }
  const post = (force: boolean) => {
    const now = performance.now();
    if (!force && now - last < 100) return;
    last = now;
    scope.postMessage({ type: "progress", read, total, lines, events });
  };
  try {
    const exact: ReplayChunksOptions = stopAt === undefined ? {} : { stopAt, maxSnapshots: 2 };
    const replay = await replayChunks(chunks(), {
      ...exact,
      fractionRead: () => (total > 0 ? read / total : 0),
      onProgress: (p) => {
        lines = p.lines;
        events = p.events;
        post(false);
      },
    });
    post(true);
    const ms = performance.now() - started;
    const last = replay.snapshots[replay.snapshots.length - 1];
    if (stopAt !== undefined && last !== undefined) scope.postMessage({ type: "at", snapshot: last, ms });
    else scope.postMessage({ type: "done", replay, read, total, ms });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = `after ${read.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} bytes (${lines.toLocaleString("en-US")} lines read)`;
    const named = error instanceof Error ? error.name : "";
    if (named === "NotATraceError" || named === "TraceSettingsError") scope.postMessage({ type: "error", message });
    else if (gzip && error instanceof TypeError) scope.postMessage({ type: "error", message: `corrupt or truncated gzip data (${message}) ${where}` });
    else scope.postMessage({ type: "error", message: `${message} ${where}` });
  }
}
