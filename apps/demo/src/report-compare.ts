/**
 * `mem-demo report --compare '<settings>'`: compare's what-if table in the report, and each
 * configuration's RSS as a line over the timeline. The grammar is compare's
 * (compare-settings.ts) and every column comes from compare's runner (compare-run.ts), so
 * that the table's figures are `mem-demo compare --json`'s for the same settings.
 *
 *   baseline + each --compare ──► runConfiguration ──► CompareJson ──► <table id="compare">
 *                                       └─ its timeline ──► RssAnon line (TimelineSeries)
 */
import type { TimelineResult } from "@mem/insight";
import type { TimelineSeries } from "@mem/view";
import { COMPARE_ROWS, compareJson, type CompareJson } from "./compare-command.js";
import { runConfiguration, type CompareColumn } from "./compare-run.js";
import { CompareSettingsError, parseCompareSettings, type CompareConfig } from "./compare-settings.js";
import type { StackOptions } from "./stack.js";

/** What the report shows of a comparison. */
export interface ReportComparison {
  /** `compare --json`'s object. */
  readonly json: CompareJson;
  /** RssAnon over call events of every configuration but the baseline (whose RSS the areas show). */
  readonly series: readonly TimelineSeries[];
}

/**
 * Parses `--compare` strings with compare's grammar.
 * @throws {@link CompareSettingsError} naming the string, the word and the rule
 */
export function parseReportCompare(texts: readonly string[]): CompareConfig[] {
  return texts.map((text) => {
    try {
      return parseCompareSettings(text);
    } catch (error) {
      if (error instanceof CompareSettingsError) throw new CompareSettingsError(`--compare '${text}': ${error.message}`);
      throw error;
    }
  });
}

/**
 * Replays `trace` as recorded and under each configuration (one after the other) with
 * compare's runner, keeping each replay's RssAnon samples for the timeline.
 */
export async function compareForReport(trace: string, base: StackOptions, configs: readonly CompareConfig[], every: number, note: (line: string) => void = () => undefined): Promise<ReportComparison> {
  const columns: CompareColumn[] = [];
  const series: TimelineSeries[] = [];
  for (const config of [undefined, ...configs]) {
    let result: TimelineResult | undefined;
    const column = await runConfiguration(trace, base, config, every, (line) => {
      if (config !== undefined && !line.startsWith("from the trace header:")) note(`--compare '${config.text}': ${line}`);
    }, (r) => (result = r));
    columns.push(column);
    if (config !== undefined && result !== undefined) series.push({ label: config.text, points: result.timeline.map((s) => ({ event: s.event, value: s.rssAnon })) });
  }
  return { json: compareJson({ trace, every, columns }), series };
}

function h(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function cell(value: number, bytes: boolean): string {
  if (!bytes) return value.toLocaleString("en-US");
  if (value < 1024) return `${value} B`;
  if (value < 2 ** 20) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 2 ** 20).toFixed(1)} MiB`;
}

function change(p: number | null | undefined): string {
  if (p === undefined) return "";
  if (p === null) return " (new)";
  if (Math.abs(p) < 0.05) return " (=)";
  return ` (${p > 0 ? "+" : ""}${p.toFixed(Math.abs(p) < 10 ? 1 : 0)}%)`;
}

/**
 * The what-if table: a row per figure of compare's table, a column per configuration, each
 * cell its value (exact in `data-value`) and its change from the baseline; a failed column
 * says why.
 */
export function compareTableHtml(json: CompareJson): string {
  const head = json.columns.map((c, i) => `<th data-column="${i}" title="${h(c.settings)}">${i === 0 ? "baseline" : `#${i} ${h(c.label)}`}</th>`).join("");
  const rows = COMPARE_ROWS.map((r) => {
    const cells = json.columns
      .map((c, i) => {
        if (c.figures === null) return `<td class="failed" data-column="${i}">—</td>`;
        const v = r.value(c.figures);
        return `<td class="n" data-column="${i}" data-key="${r.key}" data-value="${v}">${h(cell(v, r.bytes))}${i === 0 ? "" : h(change(c.change?.[r.key]))}</td>`;
      })
      .join("");
    return `<tr data-key="${r.key}"><td>${h(r.label)}</td>${cells}</tr>`;
  }).join("");
  const settings = json.columns.map((c, i) => `<li data-column="${i}">${i === 0 ? "baseline" : `#${i}`}: ${h(c.settings)}${c.failure !== null ? ` <strong class="failure">failed: ${h(c.failure)}</strong>` : ""}</li>`).join("");
  return `<table id="compare"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table><ul id="compare-settings">${settings}</ul>`;
}
