import type { Pins } from "./api.js";
import type { PolicyEvent, Sample, Snapshot, TimelineResult } from "./timeline.js";

/** The `$id` of the JSON Schema of {@link ExplainJson} (`@mem/insight/explain.schema.json`). */
export const EXPLAIN_SCHEMA_ID = "https://github.com/mem-stack/mem/packages/insight/schema/explain.schema.json";

/** A snapshot as JSON: a sample plus the bytes outside RssAnon and the pins. */
export type SnapshotJson = Sample & { readonly outside: Record<string, number>; readonly liveBlocks: number; readonly pins: Pins };

/**
 * The `--json` output of `mem-demo explain`, a contract for other tools (schema version 1,
 * described by `schema/explain.schema.json`): `timeline` holds the samples in event order,
 * the last being the end of the trace (or where a failing trace stopped); `peak` and `end`
 * are samples with their pins; every sample's `causes` sum to its `rssAnon`.
 */
export interface ExplainJson {
  /** The schema's `$id`. */
  readonly $schema: string;
  /** The schema version: 1. */
  readonly version: 1;
  /** The sampling interval in call events (doubled when a long trace was thinned). */
  readonly every: number;
  /** The samples. */
  readonly timeline: readonly Sample[];
  /** The sample with the highest RssAnon. */
  readonly peak: SnapshotJson;
  /** The end. */
  readonly end: SnapshotJson;
  /** The account at `--at <event>`, when asked for. */
  readonly at?: SnapshotJson;
  /** Policy events, narrated. */
  readonly events: readonly PolicyEvent[];
  /** Where a failing trace stopped. */
  readonly stopped?: { readonly event: number; readonly line: number; readonly error: string };
}

function snapshotJson(s: Snapshot): SnapshotJson {
  const { account, ...sample } = s;
  return { ...sample, outside: account.outside, liveBlocks: account.liveBlocks };
}

/** Builds the `--json` object from a finished timeline. */
export function explainJson(result: TimelineResult, stopped?: ExplainJson["stopped"]): ExplainJson {
  const out: ExplainJson = {
    $schema: EXPLAIN_SCHEMA_ID,
    version: 1,
    every: result.every,
    timeline: result.timeline,
    peak: snapshotJson(result.peak),
    end: snapshotJson(result.end),
    events: result.events,
  };
  return {
    ...out,
    ...(result.at !== undefined ? { at: snapshotJson(result.at) } : {}),
    ...(stopped !== undefined ? { stopped } : {}),
  };
}
