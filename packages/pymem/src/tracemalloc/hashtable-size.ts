/**
 * The size accounting of CPython's `_Py_hashtable_t` (Python/hashtable.c), which is all that
 * `tracemalloc.get_tracemalloc_memory()` reports: `sizeof(table) + nbuckets * 8 + nentries * 32`.
 * The bucket count follows the real resize rules:
 *
 *   start / clear:  16 buckets
 *   after a set:    if (float)nentries / (float)nbuckets > 0.50 -> rehash
 *   after a steal:  if (float)nentries / (float)nbuckets < 0.10 -> rehash
 *   rehash:         nbuckets = round_size((size_t)(nentries * 2.0 / (0.10 + 0.50)))
 *   round_size(s):  16 if s < 16, else the next power of two >= s
 */

/** `sizeof(_Py_hashtable_t)` on x86-64. */
export const HASHTABLE_HEADER_SIZE = 80;
/** `sizeof(_Py_hashtable_entry_t)`: next, key_hash, key, value. */
export const HASHTABLE_ENTRY_SIZE = 32;
const MIN_SIZE = 16;
const HIGH = 0.5;
const LOW = 0.1;

/** The bucket and entry counts of one modelled hash table. */
export class HashtableSize {
  /** Current number of buckets (a power of two, at least 16). */
  nbuckets = MIN_SIZE;
  /** Current number of entries. */
  nentries = 0;

  /** `_Py_hashtable_set` of a new key. */
  added(): void {
    this.nentries++;
    if (Math.fround(Math.fround(this.nentries) / Math.fround(this.nbuckets)) > HIGH) this.rehash();
  }

  /** `_Py_hashtable_steal` of an existing key. */
  removed(): void {
    this.nentries--;
    if (Math.fround(Math.fround(this.nentries) / Math.fround(this.nbuckets)) < LOW) this.rehash();
  }

  /** `_Py_hashtable_clear`. */
  clear(): void {
    this.nentries = 0;
    this.rehash();
  }

  /** `_Py_hashtable_size`: bytes of the header, the bucket array and the entries. */
  bytes(): number {
    return HASHTABLE_HEADER_SIZE + 8 * this.nbuckets + HASHTABLE_ENTRY_SIZE * this.nentries;
  }

  private rehash(): void {
    const wanted = Math.trunc((this.nentries * 2.0) / (LOW + HIGH));
    let size = MIN_SIZE;
    if (wanted >= MIN_SIZE) {
      size = 1;
      while (size < wanted) size *= 2;
    }
    this.nbuckets = size;
  }
}
