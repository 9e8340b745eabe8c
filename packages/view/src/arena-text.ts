import type { ArenaMapData } from "./api.js";
import { bytes, hex } from "./svg.js";

/** Options of {@link arenaMapText}. */
export interface ArenaTextOptions {
  /** Unicode block characters (a terminal that allows them), else plain ASCII. @defaultValue true */
  unicode?: boolean;
  /** Arenas listed; the rest are counted. @defaultValue 16 */
  maxArenas?: number;
}

const UNICODE = { levels: "▁▂▃▄▅▆▇█", empty: "·", uncarved: " ", unknown: "?", pin: "◆", frame: ["▕", "▏"] } as const;
const ASCII = { levels: ".:-=+*#@", empty: "o", uncarved: " ", unknown: "?", pin: "*", frame: ["|", "|"] } as const;

/**
 * A compact arena map for a terminal: one line an arena, one character a pool: a used pool
 * by how full it is (eight levels: `▁`…`█`, or `.:-=+*#@` in ASCII), an empty pool `·` (`o`),
 * a never-carved pool blank; `◆` (`*`) flags an arena pinned by a few survivors.
 *
 * ```
 *   ◆ 0x7ffff7b91000 ▕·····················▁                                         ▏ 2 live blocks (512 B) keep 344.0 KiB
 *     0x7ffff7cd2000 ▕▅█▁█▃·························································▏
 * ```
 */
export function arenaMapText(data: ArenaMapData, options: ArenaTextOptions = {}): string {
  const c = (options.unicode ?? true) ? UNICODE : ASCII;
  const max = options.maxArenas ?? 16;
  if (data.arenas.length === 0) return "";
  let out = "";
  for (const a of data.arenas.slice(0, max)) {
    let line = "";
    for (const p of a.pools) {
      if (p.state === "used") line += c.levels[Math.min(c.levels.length - 1, Math.floor((p.used / Math.max(1, p.capacity)) * c.levels.length))];
      else line += p.state === "empty" ? c.empty : p.state === "uncarved" ? c.uncarved : c.unknown;
    }
    const pin = a.pin !== undefined ? ` ${a.pin.liveBlocks} live block${a.pin.liveBlocks === 1 ? "" : "s"} (${bytes(a.pin.liveBytes)}) keep ${bytes(a.pin.residentBytes)}` : "";
    out += `${a.pin !== undefined ? c.pin : " "} ${hex(a.base)} ${c.frame[0]}${line}${c.frame[1]}${pin}\n`;
  }
  if (data.arenas.length > max) out += `  ... and ${data.arenas.length - max} more arenas\n`;
  out += `  one character a pool of ${bytes(data.poolSize)}: used ${c.levels} (nearly empty to full), empty ${c.empty}, never carved blank; ${c.pin} pinned by a few survivors\n`;
  return out;
}
