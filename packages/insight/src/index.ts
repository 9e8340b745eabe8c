export type { Account, ArenaPin, Causes, InspectedStack, PinningBlock, Pins, TopPin, TrimDryRun } from "./api.js";
export { account, accountDetail, usesDebugHooks, type AccountDetail, type AccountOptions } from "./account.js";
export { ResidentLedger } from "./ledger.js";
export { findMappedChunks, type MappedChunk } from "./mapped-scan.js";
export { pinsOf, type PinsOptions } from "./pins.js";
