import type { GlibcMalloc } from "@mem/libc-malloc";
import type { ResidentVma } from "@mem/os-vm";
import type { LibcFindings } from "./glibc-source.js";
import type { ResidentLedger } from "./ledger.js";

/**
 * glibc's part of the last account, for an account kept incrementally: while no resident
 * page outside pymalloc's arenas is soft-dirty, the same pages are resident there, and the
 * mappings, glibc's inspection and pymalloc's structures are the same, the heap walk would read
 * the same bytes and give the same chunks, so its causes and page claims are replayed instead.
 *
 * ```
 *   key: inspection + VMAs + arena ranges + pymalloc structures (JSON)
 *   outside: resident pages outside the arenas     claims: (page, bytes) the part made
 *   causes: bytes by cause the part added           findings: what accountGlibc returned
 * ```
 */
export class LibcPartCache {
  private key = "";
  private outside: Float64Array = new Float64Array(0);
  private claims: { readonly pages: Float64Array; readonly bytes: Float64Array } | undefined;
  private causes: readonly (readonly [string, number])[] = [];
  private findings: LibcFindings | undefined;
  /** Whether the last account reused the cached part. */
  reused = false;

  /** Forgets the cached part. */
  reset(): void {
    this.key = "";
    this.findings = undefined;
  }

  /**
   * glibc's part: replayed from the cache when nothing it reads changed, else computed by
   * `compute` and recorded.
   */
  part(
    g: GlibcMalloc,
    ledger: ResidentLedger,
    vmas: readonly ResidentVma[],
    skip: readonly (readonly [number, number])[],
    structures: ReadonlyMap<number, string>,
    compute: () => LibcFindings,
  ): LibcFindings {
    const key = JSON.stringify([g.inspect(), vmas.map((v) => [v.start, v.end, v.name]), skip, [...structures]]);
    const outside = ledger.pagesOutside(skip);
    this.reused = false;
    if (this.findings !== undefined && this.claims !== undefined && key === this.key && sameArray(outside, this.outside) && !ledger.softDirtyOutside(skip)) {
      ledger.replayClaims(this.claims);
      for (const [cause, bytes] of this.causes) ledger.credit(cause, bytes);
      this.reused = true;
      return this.findings;
    }
    const claimsBefore = ledger.claimsNow();
    const causesBefore = new Map(ledger.causes);
    const findings = compute();
    this.claims = ledger.claimsSince(claimsBefore);
    const added: [string, number][] = [];
    for (const [cause, bytes] of ledger.causes) {
      const delta = bytes - (causesBefore.get(cause) ?? 0);
      if (delta !== 0) added.push([cause, delta]);
    }
    this.causes = added;
    this.findings = findings;
    this.key = key;
    this.outside = outside;
    return findings;
  }
}

function sameArray(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
