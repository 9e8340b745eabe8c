/**
 * The Web Worker that replays a dropped trace, so that the page stays responsive: it streams
 * the file (gunzipped by the browser's DecompressionStream when it starts with gzip's magic
 * bytes), replays it with {@link replayChunks}, and posts its progress every 100 ms.
 *
 *   page ──{ file }──► worker ──{ progress }*──► page
 *                             └─{ done, replay } | { error, message }
 */
import { replayChunks, type TraceReplay } from "./trace-replay.js";

/** A message from the worker to the page. */
export type WorkerMessage =
  | { readonly type: "progress"; readonly read: number; readonly total: number; readonly lines: number; readonly events: number }
  | { readonly type: "done"; readonly replay: TraceReplay; readonly read: number; readonly total: number; readonly ms: number }
  | { readonly type: "error"; readonly message: string };

/** The message the page sends: the file to replay. */
export interface WorkerRequest {
  /** The trace file (a File or any Blob). */
  readonly file: Blob;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerMessage): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (event) => {
  void replayFile(event.data.file);
};

async function replayFile(file: Blob): Promise<void> {
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
    const replay = await replayChunks(chunks(), {
      fractionRead: () => (total > 0 ? read / total : 0),
      onProgress: (p) => {
        lines = p.lines;
        events = p.events;
        post(false);
      },
    });
    post(true);
    scope.postMessage({ type: "done", replay, read, total, ms: performance.now() - started });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = `after ${read.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} bytes (${lines.toLocaleString("en-US")} lines read)`;
    const named = error instanceof Error ? error.name : "";
    if (named === "NotATraceError" || named === "TraceSettingsError") scope.postMessage({ type: "error", message });
    else if (gzip && error instanceof TypeError) scope.postMessage({ type: "error", message: `corrupt or truncated gzip data (${message}) ${where}` });
    else scope.postMessage({ type: "error", message: `${message} ${where}` });
  }
}
