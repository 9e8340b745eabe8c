/**
 * `mem-demo record --frames N`: how many Python frames of each allocation's traceback the
 * CPython recorder writes (apps/demo/native/py_frames.h), passed to it in its environment.
 */

/** tracemalloc's limit on the number of frames (`MAX_NFRAME`, UINT16_MAX). */
export const MAX_FRAMES = 65535;

/** Parses `--frames`: an integer in 0..65535 (0: no tracebacks). */
export function parseFrames(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_FRAMES || value.trim() === "") {
    throw new Error(`the number of frames must be in range [0; ${MAX_FRAMES}] (tracemalloc's limit), got "${value}"`);
  }
  return n;
}

/**
 * The recorder's environment for `frames`: `MEMTRACE_FRAMES=N` when given (the recorder refuses
 * a CPython it cannot walk), else `MEMTRACE_FRAMES_DEFAULT=1` (one frame where supported).
 * The recorder removes both before the program starts.
 */
export function framesEnv(env: NodeJS.ProcessEnv, frames: number | undefined): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.MEMTRACE_FRAMES;
  delete out.MEMTRACE_FRAMES_DEFAULT;
  if (frames === undefined) out.MEMTRACE_FRAMES_DEFAULT = "1";
  else out.MEMTRACE_FRAMES = String(frames);
  return out;
}
