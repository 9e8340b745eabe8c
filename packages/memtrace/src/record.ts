import type { Domain, EventKind, MemtraceEvent } from "./api.js";

const EMPTY = new Uint8Array(0);
const NO_FRAMES: readonly number[] = [];

/**
 * One trace line as a reusable, mutable record: the allocation-free form the fast
 * readers fill in (one object for a whole trace, all fields always present, so that
 * code reading it stays monomorphic). Only the fields of the current `kind` are
 * meaningful; {@link TraceRecord.toEvent} turns it into a {@link MemtraceEvent}.
 *
 * | kind        | fields used                          |
 * |-------------|--------------------------------------|
 * | malloc      | domain, size, result                 |
 * | calloc      | domain, nelem, elsize, result        |
 * | realloc     | domain, ptr, size, result            |
 * | free        | domain, ptr                          |
 * | memalign    | domain, alignment, size, result      |
 * | arena-alloc | size, result                         |
 * | arena-free  | ptr, size                            |
 * | write       | ptr, offset, bytes                   |
 * | heap-start  | address                              |
 * | cpus        | count                                |
 * | thread, thread-start, thread-exit | thread             |
 * | frame       | id, lineno, filename                 |
 * | traceback   | id, total, frames                    |
 * | stack       | traceback                            |
 * | retrace     | ptr                                  |
 * | comment     | text                                 |
 */
export class TraceRecord {
  /** Which event the record holds. */
  kind: EventKind = "comment";
  /** The domain (malloc, calloc, realloc, free, memalign). */
  domain: Domain = "raw";
  /** Requested size (malloc, realloc, memalign), or the arena size (arena-alloc, arena-free). */
  size = 0;
  /** Number of elements (calloc). */
  nelem = 0;
  /** Element size (calloc). */
  elsize = 0;
  /** Alignment (memalign). */
  alignment = 0;
  /** The pointer passed in (realloc, free, arena-free, write). */
  ptr = 0;
  /** The pointer returned (malloc, calloc, realloc, memalign, arena-alloc); 0 = NULL. */
  result = 0;
  /** Offset from `ptr` (write). */
  offset = 0;
  /** The initial program break (heap-start). */
  address = 0;
  /** Online CPUs of the recording machine (cpus). */
  count = 0;
  /** The recorder's thread number, 1 = main thread (thread, thread-start, thread-exit). */
  thread = 1;
  /** The bytes written (write). */
  bytes: Uint8Array = EMPTY;
  /** The id a frame or traceback is defined with (frame, traceback). */
  id = 0;
  /** The line number (frame). */
  lineno = 0;
  /** The file name, unescaped (frame). */
  filename = "";
  /** Frames the stack had before the recording's limit cut it (traceback). */
  total = 0;
  /** Frame ids, most recent first (traceback): a fresh array for every traceback line. */
  frames: readonly number[] = NO_FRAMES;
  /** The traceback id the allocations that follow were made at (stack). */
  traceback = 0;
  /** Everything after `#` (comment). */
  text = "";

  /** A fresh, immutable event holding this record's current content. */
  toEvent(): MemtraceEvent {
    switch (this.kind) {
      case "malloc":
        return { kind: "malloc", domain: this.domain, size: this.size, result: this.result };
      case "calloc":
        return { kind: "calloc", domain: this.domain, nelem: this.nelem, elsize: this.elsize, result: this.result };
      case "realloc":
        return { kind: "realloc", domain: this.domain, ptr: this.ptr, size: this.size, result: this.result };
      case "free":
        return { kind: "free", domain: this.domain, ptr: this.ptr };
      case "memalign":
        return { kind: "memalign", domain: this.domain, alignment: this.alignment, size: this.size, result: this.result };
      case "arena-alloc":
        return { kind: "arena-alloc", size: this.size, result: this.result };
      case "arena-free":
        return { kind: "arena-free", ptr: this.ptr, size: this.size };
      case "write":
        return { kind: "write", ptr: this.ptr, offset: this.offset, bytes: this.bytes };
      case "heap-start":
        return { kind: "heap-start", address: this.address };
      case "cpus":
        return { kind: "cpus", count: this.count };
      case "thread":
      case "thread-start":
      case "thread-exit":
        return { kind: this.kind, thread: this.thread };
      case "frame":
        return { kind: "frame", id: this.id, lineno: this.lineno, filename: this.filename };
      case "traceback":
        return { kind: "traceback", id: this.id, total: this.total, frames: this.frames };
      case "stack":
        return { kind: "stack", traceback: this.traceback };
      case "retrace":
        return { kind: "retrace", ptr: this.ptr };
      case "comment":
        return { kind: "comment", text: this.text };
    }
  }

  /** Loads `event` into this record (the fields of other kinds keep their values) and returns the record. */
  assign(event: MemtraceEvent): this {
    this.kind = event.kind;
    switch (event.kind) {
      case "malloc":
        this.domain = event.domain;
        this.size = event.size;
        this.result = event.result;
        break;
      case "calloc":
        this.domain = event.domain;
        this.nelem = event.nelem;
        this.elsize = event.elsize;
        this.result = event.result;
        break;
      case "realloc":
        this.domain = event.domain;
        this.ptr = event.ptr;
        this.size = event.size;
        this.result = event.result;
        break;
      case "free":
        this.domain = event.domain;
        this.ptr = event.ptr;
        break;
      case "memalign":
        this.domain = event.domain;
        this.alignment = event.alignment;
        this.size = event.size;
        this.result = event.result;
        break;
      case "arena-alloc":
        this.size = event.size;
        this.result = event.result;
        break;
      case "arena-free":
        this.ptr = event.ptr;
        this.size = event.size;
        break;
      case "write":
        this.ptr = event.ptr;
        this.offset = event.offset;
        this.bytes = event.bytes;
        break;
      case "heap-start":
        this.address = event.address;
        break;
      case "cpus":
        this.count = event.count;
        break;
      case "thread":
      case "thread-start":
      case "thread-exit":
        this.thread = event.thread;
        break;
      case "frame":
        this.id = event.id;
        this.lineno = event.lineno;
        this.filename = event.filename;
        break;
      case "traceback":
        this.id = event.id;
        this.total = event.total;
        this.frames = event.frames;
        break;
      case "stack":
        this.traceback = event.traceback;
        break;
      case "retrace":
        this.ptr = event.ptr;
        break;
      case "comment":
        this.text = event.text;
        break;
    }
    return this;
  }
}
