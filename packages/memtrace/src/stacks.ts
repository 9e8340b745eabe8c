import { MemtraceSyntaxError } from "./errors.js";
import type { TraceRecord } from "./record.js";

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
  private readonly frameById = new Map<number, SourceFrame>();
  private readonly tracebackById = new Map<number, SourceTraceback>();
  /** The traceback id of the last `#S` line, or -1 before the first. */
  current = -1;

  /** Number of frames defined. */
  get frames(): number {
    return this.frameById.size;
  }

  /** Number of tracebacks defined. */
  get tracebacks(): number {
    return this.tracebackById.size;
  }

  /** The frame with this id, or undefined. */
  frame(id: number): SourceFrame | undefined {
    return this.frameById.get(id);
  }

  /** The traceback with this id, or undefined. */
  traceback(id: number): SourceTraceback | undefined {
    return this.tracebackById.get(id);
  }

  /** The frames of traceback `id`, most recent first (undefined for an unknown id). */
  resolve(id: number): SourceFrame[] | undefined {
    const tb = this.tracebackById.get(id);
    return tb?.frames.map((f) => this.frameById.get(f)!);
  }

  /**
   * Takes in a stack record (kind `frame`, `traceback` or `stack`; other kinds are ignored).
   * @throws {@link MemtraceSyntaxError} naming `line`: an id defined twice, or a reference to
   *   an id no earlier line defines
   */
  add(rec: TraceRecord, line: number): void {
    switch (rec.kind) {
      case "frame":
        if (this.frameById.has(rec.id)) throw new MemtraceSyntaxError(line, `frame (#F) ${rec.id} is defined twice (an id is written once)`);
        this.frameById.set(rec.id, { filename: rec.filename, lineno: rec.lineno });
        return;
      case "traceback": {
        if (this.tracebackById.has(rec.id)) throw new MemtraceSyntaxError(line, `traceback (#T) ${rec.id} is defined twice (an id is written once)`);
        for (const f of rec.frames) {
          if (!this.frameById.has(f)) {
            throw new MemtraceSyntaxError(line, `traceback (#T) ${rec.id} refers to frame ${f}, which no #F line before it defines`);
          }
        }
        this.tracebackById.set(rec.id, { total: rec.total, frames: rec.frames });
        return;
      }
      case "retrace":
        if (this.current < 0) throw new MemtraceSyntaxError(line, "retrace (#R) comes before any #S line: no traceback is in force");
        return;
      case "stack":
        if (!this.tracebackById.has(rec.traceback)) {
          throw new MemtraceSyntaxError(line, `stack (#S) refers to traceback ${rec.traceback}, which no #T line before it defines`);
        }
        this.current = rec.traceback;
        return;
      default:
        return;
    }
  }
}
