/**
 * A parsed trace held in typed arrays, one column per field, instead of one object per event.
 * The benchmark replays from it through a single reused TraceRecord, as the streaming CLI
 * does; timing a replay over 600,000 event objects would mostly time the garbage collector
 * walking them. (The native replayer likewise parses into arrays before its clock starts.)
 */
import { DOMAINS, TraceRecord, type EventKind, type MemtraceEvent } from "@mem/memtrace";

const KINDS: readonly EventKind[] = ["malloc", "calloc", "realloc", "free", "memalign", "arena-alloc", "arena-free", "write", "heap-start", "comment"];
/** Kinds from this code on carry non-numeric fields and are kept as events in `others`. */
const FIRST_OTHER = KINDS.indexOf("write");

/** A trace packed into columns; {@link PackedTrace.load} fills a record with event `i`. */
export class PackedTrace {
  /** Number of events. */
  readonly length: number;
  private readonly kinds: Uint8Array;
  private readonly domains: Uint8Array;
  private readonly sizes: Float64Array;
  private readonly nelems: Float64Array;
  private readonly elsizes: Float64Array;
  private readonly alignments: Float64Array;
  private readonly ptrs: Float64Array;
  private readonly results: Float64Array;
  /** Events with non-numeric fields (write, heap-start, comment), by index: rare. */
  private readonly others = new Map<number, MemtraceEvent>();

  /** Packs `events`. */
  constructor(events: readonly MemtraceEvent[]) {
    const n = events.length;
    this.length = n;
    this.kinds = new Uint8Array(n);
    this.domains = new Uint8Array(n);
    this.sizes = new Float64Array(n);
    this.nelems = new Float64Array(n);
    this.elsizes = new Float64Array(n);
    this.alignments = new Float64Array(n);
    this.ptrs = new Float64Array(n);
    this.results = new Float64Array(n);
    const record = new TraceRecord();
    for (let i = 0; i < n; i++) {
      const event = events[i]!;
      this.kinds[i] = KINDS.indexOf(event.kind);
      if (event.kind === "write" || event.kind === "heap-start" || event.kind === "comment") {
        this.others.set(i, event);
        continue;
      }
      record.assign(event);
      this.domains[i] = DOMAINS.indexOf(record.domain);
      this.sizes[i] = record.size;
      this.nelems[i] = record.nelem;
      this.elsizes[i] = record.elsize;
      this.alignments[i] = record.alignment;
      this.ptrs[i] = record.ptr;
      this.results[i] = record.result;
    }
  }

  /** Fills `record` with event `i` and returns it. */
  load(i: number, record: TraceRecord): TraceRecord {
    const kind = this.kinds[i]!;
    if (kind >= FIRST_OTHER) return record.assign(this.others.get(i)!);
    record.kind = KINDS[kind]!;
    record.domain = DOMAINS[this.domains[i]!]!;
    record.size = this.sizes[i]!;
    record.nelem = this.nelems[i]!;
    record.elsize = this.elsizes[i]!;
    record.alignment = this.alignments[i]!;
    record.ptr = this.ptrs[i]!;
    record.result = this.results[i]!;
    return record;
  }
}
