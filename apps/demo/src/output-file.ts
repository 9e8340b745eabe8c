/**
 * How mem-demo writes a file the user named (`--out`, `--stats-out`), so that no user's
 * file is ever destroyed or silently replaced:
 *
 *   checkOutput(out, inputs, force)     refuse: the same file as an input (device + inode,
 *                                       through symbolic and hard links); an existing file
 *                                       without --force; an unwritable place (one line)
 *   .out.memtrace.<pid>.<rand>.tmp      everything is written to a temporary file beside it
 *        │ complete                     link (no --force: never replaces what appeared since)
 *        └──────────────► out.memtrace  or rename (--force) into place, atomically
 *        │ failed or interrupted        "# partial: <why>" as the last line, then into place
 *        └──────────────► out.memtrace  only if nothing is there (a partial result never
 *                                       replaces an existing file, even with --force)
 *
 * `.gz` names are written gzip-compressed; `-` is standard output.
 */
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, createWriteStream, existsSync, linkSync, lstatSync, openSync, renameSync, statSync, unlinkSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { createGzip } from "node:zlib";

/** A file mem-demo will not write, or cannot: the message is one line for the user. */
export class OutputError extends Error {
  override readonly name = "OutputError";
}

/** A file the command reads, to compare outputs with. */
export interface InputFile {
  /** The path as the user gave it. */
  readonly path: string;
  /** What it is, for the message: "the trace being read", "the script". */
  readonly what: string;
}

const DESCRIPTIONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EISDIR: "is a directory",
  ENAMETOOLONG: "file name too long",
  EEXIST: "exists",
};

/** `cannot write <path>: <CODE> (<what it means here>)` for a Node file-system error. */
export function cannotWrite(path: string, error: unknown): OutputError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "EIO";
  let why = DESCRIPTIONS[code] ?? ((error as Error | undefined)?.message ?? String(error)).replace(/^\w+: /, "").replace(/, open '.*'$/, "");
  if (code === "ENOENT") why = `no such directory: ${dirname(path)}`;
  if (code === "ENOTDIR") why = `${notADirectory(path)} is not a directory`;
  return new OutputError(`cannot write ${path}: ${code} (${why})`);
}

/** The first parent of `path` (as written) that exists and is not a directory. */
function notADirectory(path: string): string {
  let dir = dirname(path);
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    if (existsSync(d) && !statSync(d).isDirectory()) dir = d;
  }
  return dir;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Whether two paths name the same file (device and inode, following symbolic links). */
export function sameFile(a: string, b: string): boolean {
  const sa = statOrUndefined(a);
  const sb = statOrUndefined(b);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Throws an {@link OutputError} unless `out` may be written: it is no input (whatever
 * `force` says), and it does not exist unless `force`. `-` (standard output) always may.
 */
export function checkOutput(out: string, inputs: readonly InputFile[], force: boolean): void {
  if (out === "-") return;
  for (const input of inputs) {
    if (input.path !== "-" && sameFile(out, input.path)) {
      throw new OutputError(`will not write ${out}: it is the same file as ${input.what} (${input.path})`);
    }
  }
  let exists = false;
  try {
    lstatSync(out);
    exists = true;
  } catch {
    // absent: fine
  }
  if (exists && statOrUndefined(out)?.isDirectory()) throw new OutputError(`cannot write ${out}: EISDIR (is a directory)`);
  if (exists && !force) throw new OutputError(`${out} exists: pass --force to replace it`);
  // the folder must take a new file (checked again, for real, when the temporary file is made)
  const dir = dirname(out);
  const dirStat = statOrUndefined(dir);
  if (dirStat === undefined) throw cannotWrite(out, Object.assign(new Error("no such directory"), { code: existsAsFileAbove(dir) ? "ENOTDIR" : "ENOENT" }));
  if (!dirStat.isDirectory()) throw cannotWrite(out, Object.assign(new Error("not a directory"), { code: "ENOTDIR" }));
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw cannotWrite(out, error);
  }
}

/** Whether some parent of `dir` exists and is not a directory. */
function existsAsFileAbove(dir: string): boolean {
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    const st = statOrUndefined(d);
    if (st !== undefined) return !st.isDirectory();
  }
  return false;
}

/** A fresh temporary name beside `out` (same folder, so that the final rename is atomic). */
export function temporaryPath(out: string): string {
  return join(dirname(out), `.${basename(out)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/**
 * Creates an empty temporary file beside `out` (exclusively) and returns its path; this is
 * where a permission problem shows up, before any work is done.
 * @throws {@link OutputError} `cannot write <out>: <CODE> (...)`
 */
export function createTemporary(out: string): string {
  const tmp = temporaryPath(out);
  try {
    closeSync(openSync(tmp, "wx", 0o666));
  } catch (error) {
    throw cannotWrite(out, error);
  }
  return tmp;
}

/**
 * Puts the finished temporary file `tmp` in place as `out`. Without `replace`, a file that
 * appeared at `out` meanwhile is kept (and an {@link OutputError} says so).
 */
export function install(tmp: string, out: string, replace: boolean): void {
  try {
    if (replace) renameSync(tmp, out);
    else {
      linkSync(tmp, out);
      unlinkSync(tmp);
    }
  } catch (error) {
    removeQuietly(tmp);
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new OutputError(`${out} appeared while writing it: it is left as it was`);
    throw cannotWrite(out, error);
  }
}

/** Removes a file, ignoring any error (it may already be gone). */
export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Options of {@link OutputFile.open}. */
export interface OutputFileOptions {
  /** Files the command reads (the output may not be one of them). */
  readonly inputs?: readonly InputFile[];
  /** Replace an existing output (a complete one only). @defaultValue false */
  readonly force?: boolean;
  /** Where `-` writes. @defaultValue process.stdout */
  readonly stdout?: Writable;
}

/** How an {@link OutputFile} ended. */
export type OutputOutcome = "complete" | "partial" | "kept-existing";

/**
 * A text output written through a temporary file (gzip for `.gz`, standard output for `-`)
 * and put in place only when complete, or marked partial.
 */
export class OutputFile {
  /** The path the user gave. */
  readonly path: string;
  private readonly tmp: string | undefined;
  private readonly force: boolean;
  private readonly sink: Writable;
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private closed = false;
  /** Whether what was written so far ends a line (or nothing was written). */
  private atLineStart = true;

  private constructor(path: string, tmp: string | undefined, force: boolean, sink: Writable, done: Promise<void>) {
    this.path = path;
    this.tmp = tmp;
    this.force = force;
    this.sink = sink;
    this.done = done;
    sink.on("error", (error: Error) => (this.failure ??= error));
  }

  /**
   * Checks `path` ({@link checkOutput}) and opens its temporary file.
   * @throws {@link OutputError} when it may not or cannot be written
   */
  static open(path: string, options: OutputFileOptions = {}): OutputFile {
    const force = options.force ?? false;
    checkOutput(path, options.inputs ?? [], force);
    if (path === "-") {
      const stdout = options.stdout ?? process.stdout;
      return new OutputFile(path, undefined, force, stdout, Promise.resolve());
    }
    const tmp = createTemporary(path);
    const file = createWriteStream(tmp, { flags: "w" });
    const done = new Promise<void>((resolve, reject) => {
      file.on("close", resolve);
      file.on("error", reject);
    });
    if (!path.endsWith(".gz")) return new OutputFile(path, tmp, force, file, done);
    const gzip = createGzip();
    gzip.on("error", (error) => file.destroy(error));
    gzip.pipe(file);
    return new OutputFile(path, tmp, force, gzip, done);
  }

  /** Writes `text`; resolves when the stream can take more (back-pressure). */
  async write(text: string): Promise<void> {
    if (this.failure) throw cannotWrite(this.path, this.failure);
    if (text.length > 0) this.atLineStart = text.endsWith("\n");
    if (!this.sink.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.sink.off("drain", done).off("error", done);
          resolve();
        };
        this.sink.on("drain", done).on("error", done);
      });
    }
    if (this.failure) throw cannotWrite(this.path, this.failure);
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.tmp === undefined) return;
    await new Promise<void>((resolve) => this.sink.end(resolve));
    await this.done.catch((error: unknown) => {
      this.failure ??= error as Error;
    });
    if (this.failure) {
      removeQuietly(this.tmp);
      throw cannotWrite(this.path, this.failure);
    }
  }

  /** Finishes the file and puts it in place (replacing an existing one only under --force). */
  async complete(): Promise<void> {
    await this.close();
    if (this.tmp !== undefined) install(this.tmp, this.path, this.force);
  }

  /**
   * Ends the file with `# partial: <reason>` and puts it in place if nothing is there;
   * otherwise (an existing file under --force) removes it and leaves the existing file.
   */
  async partial(reason: string): Promise<OutputOutcome> {
    const line = `${this.atLineStart ? "" : "\n"}# partial: ${reason}\n`;
    if (!this.closed && !this.failure) await this.write(line).catch(() => undefined);
    try {
      await this.close();
    } catch {
      return "kept-existing";
    }
    if (this.tmp === undefined) return "partial";
    try {
      install(this.tmp, this.path, false);
      return "partial";
    } catch {
      return "kept-existing";
    }
  }

  /** Removes the temporary file without putting anything in place. */
  async discard(): Promise<void> {
    try {
      await this.close();
    } catch {
      // the temporary file is gone either way
    }
    if (this.tmp !== undefined) removeQuietly(this.tmp);
  }
}
