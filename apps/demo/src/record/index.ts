export { RecordError } from "./errors.js";
export { chooseMode, findProgram, RECORD_HELP, type RecordMode } from "./mode.js";
export { recordLibc, type LibcRecording, type RecordLibcOptions } from "./libc.js";
export { checkLibcPlacements, replayNative, type LibcPlacementCheck, type NativeReplay, type ReplayNativeOptions } from "./native.js";
export { defaultStatsPath, recordPython, splitPythonCommand, type PythonRecording, type RecordPythonOptions } from "./python.js";
export { compileNative, defaultCacheDir, findCompiler, nativeDir, pythonBuild, type NativeTarget, type PythonBuild } from "./toolchain.js";
