import { MemtraceSyntaxError } from "./errors.js";
import { FilenameTable } from "./filenames.js";
import type { TraceRecord } from "./record.js";
import { parseStackLine } from "./stack-line.js";

/** A source frame of a trace (`#F`): file name and line number. */
export interface SourceFrame {
  readonly filename: string;
  readonly lineno: number;
}

/** A traceback of a trace (`#T`): frame ids, most recent first, and the stack's total frame count. */
export interface SourceTraceback {
  readonly total: number;
  readonly frames: readonly number[];
}

/**
 * The frames and tracebacks a trace has defined so far, and the traceback in force (the last
 * `#S`): a reader feeds it every stack record in order ({@link StackTable.add}), which also
 * checks the rules of the records:
 *
 * - an id is defined once (`#F 3 ...` twice is an error);
 * - a `#T` line refers only to frames defined before it, an `#S` line only to a traceback
 *   defined before it (a record after the line that uses it is an unknown id there).
 *
 * {@link TraceStream} keeps one for every trace it reads (`stream.stacks`).
 */
export class StackTable {
  /*
   * Indexed by id (ids are small integers counted up by the recorders; a JavaScript array
   * indexed by them is a flat vector, and any other id still works, as a sparse array):
   * a Map of 50,000 tracebacks cost more than reading their lines.
   */
  private readonly frameLine: number[] = [];
  private readonly frameFile: string[] = [];
  /** The {@link SourceFrame} objects handed out, made on the first request. */
  private readonly frameObject: SourceFrame[] = [];
  private readonly tracebackFrames: (readonly number[])[] = [];
  private readonly tracebackTotal: number[] = [];
  private frameCount = 0;
  private tracebackCount = 0;
  private readonly names = new FilenameTable();
  /** The traceback id of the last `#S` line, or -1 before the first. */
  current = -1;

  /** Number of frames defined. */
  get frames(): number {
    return this.frameCount;
  }

  /** Number of tracebacks defined. */
  get tracebacks(): number {
    return this.tracebackCount;
  }

  /** The frame with this id, or undefined. */
  frame(id: number): SourceFrame | undefined {
    const made = this.frameObject[id];
    if (made !== undefined) return made;
    const lineno = this.frameLine[id];
    if (lineno === undefined) return undefined;
    const frame: SourceFrame = { filename: this.frameFile[id]!, lineno };
    this.frameObject[id] = frame;
    return frame;
  }

  /** The traceback with this id, or undefined. */
  traceback(id: number): SourceTraceback | undefined {
    const frames = this.tracebackFrames[id];
    return frames === undefined ? undefined : { total: this.tracebackTotal[id]!, frames };
  }

  /** The frames of traceback `id`, most recent first (undefined for an unknown id). */
  resolve(id: number): SourceFrame[] | undefined {
    return this.tracebackFrames[id]?.map((f) => this.frame(f)!);
  }

  /**
   * Reads the stack record line `src[start, end)` (a line {@link isStackLine} accepts, without
   * its line end) into `rec` and takes it in ({@link add}): what {@link TraceStream} does with
   * every `#F`/`#T`/`#S`/`#R` line. A frame's file name is interned (one string per distinct
   * name, holding no reference to `src`).
   * @throws {@link MemtraceSyntaxError} naming `line`: a malformed record, or one that breaks the rules of {@link add}
   */
  read(src: string, start: number, end: number, line: number, rec: TraceRecord): void {
    parseStackLine(src, start, end, line, rec, this.names);
    this.add(rec, line);
  }

  /**
   * Takes in a stack record (kind `frame`, `traceback`, `stack` or `retrace`; other kinds are ignored).
   * @throws {@link MemtraceSyntaxError} naming `line`: an id defined twice, or a reference to
   *   an id no earlier line defines
   */
  add(rec: TraceRecord, line: number): void {
    switch (rec.kind) {
      case "stack":
        if (this.tracebackFrames[rec.traceback] === undefined) {
          throw new MemtraceSyntaxError(line, `stack (#S) refers to traceback ${rec.traceback}, which no #T line before it defines`);
        }
        this.current = rec.traceback;
        return;
      case "retrace":
        if (this.current < 0) throw new MemtraceSyntaxError(line, "retrace (#R) comes before any #S line: no traceback is in force");
        return;
      case "traceback": {
        if (this.tracebackFrames[rec.id] !== undefined) throw new MemtraceSyntaxError(line, `traceback (#T) ${rec.id} is defined twice (an id is written once)`);
        const frames = rec.frames;
        for (let i = 0; i < frames.length; i++) {
          if (this.frameLine[frames[i]!] === undefined) {
            throw new MemtraceSyntaxError(line, `traceback (#T) ${rec.id} refers to frame ${frames[i]}, which no #F line before it defines`);
          }
        }
        this.tracebackFrames[rec.id] = frames;
        this.tracebackTotal[rec.id] = rec.total;
        this.tracebackCount++;
        return;
      }
      case "frame":
        if (this.frameLine[rec.id] !== undefined) throw new MemtraceSyntaxError(line, `frame (#F) ${rec.id} is defined twice (an id is written once)`);
        this.frameLine[rec.id] = rec.lineno;
        this.frameFile[rec.id] = rec.filename;
        this.frameCount++;
        return;
      default:
        return;
    }
  }
}
