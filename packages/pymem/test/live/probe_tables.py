"""Live probe of tracemalloc's hash-table sizes: get_tracemalloc_memory() after each
PyTraceMalloc_Track / _Untrack of 80 pointers in a domain of their own (77), so that only that
domain's traces table changes (an array holds the readings: no new traced objects). A first
pass in domain 78 warms up the interpreter (3.11 specializes the loop's bytecode on the fly).

Prints JSON {up: [...], down: [...]}: the readings after each track, then after each untrack.
"""
import array, json, tracemalloc, _testcapi

tracemalloc.start(1)
N = 80
ptrs = [0x10000 + 64 * i for i in range(N)]
track, untrack = _testcapi.tracemalloc_track, _testcapi.tracemalloc_untrack
mem = tracemalloc.get_tracemalloc_memory
up = array.array("q", [0] * N)
down = array.array("q", [0] * N)


def run(domain):
    for i in range(N):
        track(domain, ptrs[i], 10, False)
        up[i] = mem()
    for i in range(N):
        untrack(domain, ptrs[i])
        down[i] = mem()


run(78)
run(77)
print(json.dumps({"up": list(up), "down": list(down)}))
