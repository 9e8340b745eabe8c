export type {
  ArenaAllocEvent,
  ArenaFreeEvent,
  CallocEvent,
  CommentEvent,
  CpusEvent,
  Domain,
  EventKind,
  FreeEvent,
  HeapStartEvent,
  FrameEvent,
  TracebackEvent,
  StackEvent,
  RetraceEvent,
  MallocEvent,
  MemalignEvent,
  MemtraceEvent,
  ReadOptions,
  ReallocEvent,
  ThreadExitEvent,
  ThreadStartEvent,
  ThreadSwitchEvent,
  WriteEvent,
} from "./api.js";
export { DOMAINS, MAX_LINE_LENGTH, MEMTRACE_HEADER } from "./api.js";
export { MemtraceLineTooLongError, MemtraceSyntaxError } from "./errors.js";
export { formatBytes, formatEvent, formatPointer, formatTrace, formatTraceWithHeader } from "./format.js";
export { parseLine, parseLineInto } from "./parse-line.js";
export { TraceRecord } from "./record.js";
export type { RecordHandler } from "./stream.js";
export { TraceStream, forEachRecord, parseTrace, readEvents } from "./stream.js";
export { PointerMap, PointerMapError } from "./pointer-map.js";
export { escapeFilename } from "./stack-line.js";
export type { SourceFrame, SourceTraceback } from "./stacks.js";
export { StackTable } from "./stacks.js";
