/*
 * ptr_map.h: an open-addressing hash map from a 64-bit pointer to a 64-bit value.
 *
 * Storage comes from mmap, never from malloc, so that it can be used inside
 * allocator hooks. Linear probing; deletion by backward shift (no tombstones).
 * Key 0 marks an empty slot (NULL is never stored).
 *
 *   slots: [ key | value ] [ key | value ] ... capacity entries (a power of two)
 */
#ifndef MEMTRACE_PTR_MAP_H
#define MEMTRACE_PTR_MAP_H

#include <stdint.h>
#include <stddef.h>
#include <sys/mman.h>

typedef struct { uint64_t key, value; } ptr_slot;

typedef struct {
    ptr_slot *slots;
    size_t capacity; /* power of two */
    size_t count;
} ptr_map;

static ptr_slot *pm_alloc_slots(size_t capacity) {
    void *p = mmap(NULL, capacity * sizeof(ptr_slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : (ptr_slot *)p;
}

static inline size_t pm_hash(uint64_t k, size_t mask) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static int pm_init(ptr_map *m, size_t capacity) {
    m->capacity = capacity;
    m->count = 0;
    m->slots = pm_alloc_slots(capacity);
    return m->slots != NULL;
}

static void pm_put(ptr_map *m, uint64_t key, uint64_t value);

static void pm_grow(ptr_map *m) {
    ptr_slot *old = m->slots;
    size_t oldcap = m->capacity;
    ptr_slot *fresh = pm_alloc_slots(oldcap * 2);
    if (!fresh) return; /* keep going at a higher load factor */
    m->slots = fresh;
    m->capacity = oldcap * 2;
    m->count = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key) pm_put(m, old[i].key, old[i].value);
    munmap(old, oldcap * sizeof(ptr_slot));
}

static void pm_put(ptr_map *m, uint64_t key, uint64_t value) {
    if ((m->count + 1) * 4 > m->capacity * 3) pm_grow(m);
    size_t mask = m->capacity - 1;
    size_t i = pm_hash(key, mask);
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & mask;
    if (!m->slots[i].key) m->count++;
    m->slots[i].key = key;
    m->slots[i].value = value;
}

/* Returns 1 and stores the value if found. */
static inline int pm_get(const ptr_map *m, uint64_t key, uint64_t *value) {
    size_t mask = m->capacity - 1;
    size_t i = pm_hash(key, mask);
    for (;;) {
        uint64_t k = m->slots[i].key;
        if (k == key) { *value = m->slots[i].value; return 1; }
        if (!k) return 0;
        i = (i + 1) & mask;
    }
}

/* Removes key; returns 1 and the old value if it was present. */
static int pm_remove(ptr_map *m, uint64_t key, uint64_t *value) {
    size_t mask = m->capacity - 1;
    size_t i = pm_hash(key, mask);
    for (;;) {
        uint64_t k = m->slots[i].key;
        if (!k) return 0;
        if (k == key) break;
        i = (i + 1) & mask;
    }
    if (value) *value = m->slots[i].value;
    /* backward-shift deletion */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint64_t kj = m->slots[j].key;
        if (!kj) break;
        size_t home = pm_hash(kj, mask);
        /* can the entry at j move to i? yes if home is not in (i, j] cyclically */
        int move = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
    m->slots[i].value = 0;
    m->count--;
    return 1;
}

#endif
