"""Live probe of tracemalloc's Python-side formats and of its hooks on the PyMem domains.

Prints one JSON object (record.py writes it to test/fixtures/tracemalloc.json):
- formatSize: _format_size(n, sign) for chosen sizes;
- cases: random raw snapshots (domain, size, frames most-recent-first, total_nframe) with the
  exact str()/repr() of statistics(), compare_to() and filter_traces() results;
- live: real PyMem_* calls made through ctypes while tracing, with the traces they left.
"""
import ctypes, json, random, tracemalloc, sys
from tracemalloc import Snapshot, Filter, DomainFilter, _format_size

out = {"idleTracemallocMemory": tracemalloc.get_tracemalloc_memory()}
sizes = [0, 1, 99, 100, 1023, 1024, 10239, 10240, 10241, 102400, 102399, 5242880, 1048576 * 99,
         1048576 * 100, 2 ** 40, 2 ** 50, 2 ** 60, -150, -10240, -2560, 2560, 2576, 1536, 512 + 0.5,
         523.5, 524.5, 0.25, 2.5, 3.5, 102348.8, 104806.4, 1025 * 1024 * 1024 * 100, 12345678901]
out["formatSize"] = [[s, _format_size(s, False), _format_size(s, True)] for s in sizes]

FILES = ["a.py", "b.py", "lib/c.py", "lib/d.pyc", "<frozen e>", "x's.py"]
def rand_trace(rng):
    n = rng.randint(1, 4)
    frames = tuple((rng.choice(FILES), rng.randint(0, 6)) for _ in range(n))
    return (rng.choice([0, 0, 0, 5]), rng.choice([0, 16, 24, 56, 100, 1000, 1001, 4096, rng.randint(1, 5000)]),
            frames, n + rng.randint(0, 2))

def stats_lines(stats):
    return [[str(s), repr(s)] for s in stats]

cases = []
for seed in range(6):
    rng = random.Random(seed)
    old = [rand_trace(rng) for _ in range(rng.randint(0, 14))]
    new = [rand_trace(rng) for _ in range(rng.randint(0, 14))] + old[: len(old) // 2]
    s_old, s_new = Snapshot(old, 4), Snapshot(new, 4)
    case = {"old": old, "new": new, "statistics": {}, "compare": {}, "filters": []}
    for key in ("filename", "lineno", "traceback"):
        case["statistics"][key] = stats_lines(s_new.statistics(key))
        case["compare"][key] = stats_lines(s_new.compare_to(s_old, key))
    for key in ("filename", "lineno"):
        case["statistics"][key + "/cumulative"] = stats_lines(s_new.statistics(key, cumulative=True))
        case["compare"][key + "/cumulative"] = stats_lines(s_new.compare_to(s_old, key, cumulative=True))
    filter_sets = [
        [["Filter", True, "a.py"]],
        [["Filter", False, "lib/*"]],
        [["Filter", True, "*.py", 3]],
        [["Filter", False, "b.py", None, True]],
        [["Filter", True, "lib/d.pyc"], ["Filter", True, "<*"]],
        [["Filter", True, "*", None, False, 5]],
        [["Filter", False, "a.py", None, False, 0]],
        [["DomainFilter", True, 5]],
        [["DomainFilter", False, 5], ["Filter", False, "?.py", 2, True]],
        [["Filter", True, "[ab].py"], ["Filter", True, "lib/[!c]*"]],
    ]
    for fs in filter_sets:
        objs = [Filter(*f[1:]) if f[0] == "Filter" else DomainFilter(*f[1:]) for f in fs]
        kept = s_new.filter_traces(objs)
        case["filters"].append({"filters": fs, "kept": [list(t) for t in kept.traces._traces],
                                "traces": [[str(t), repr(t)] for t in kept.traces]})
    cases.append(case)
out["cases"] = cases

# live: real PyMem calls while tracing (the probe file's own lines are the tracebacks)
api = ctypes.pythonapi
for fam in ("PyMem_Raw", "PyMem_", "PyObject_"):
    for op, res, args in (("Malloc", ctypes.c_void_p, [ctypes.c_size_t]),
                          ("Calloc", ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]),
                          ("Realloc", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t])):
        getattr(api, fam + op).restype = res; getattr(api, fam + op).argtypes = args
    getattr(api, fam + "Free").argtypes = [ctypes.c_void_p]
steps = []
def step(label, ptrs):
    steps.append({"label": label, "line": sys._getframe(1).f_lineno, "ptrs": [hex(p or 0) for p in ptrs]})
tracemalloc.start(1)
a = api.PyMem_RawMalloc(1000); step("raw malloc 1000", [a])
b = api.PyMem_Malloc(0); step("mem malloc 0", [b])
c = api.PyObject_Malloc(700); step("obj malloc 700", [c])
d = api.PyMem_Calloc(10, 7); step("mem calloc 10 7", [d])
e = api.PyObject_Malloc(100); step("obj malloc 100", [e])
e2 = api.PyObject_Realloc(e, 90); step("obj realloc 100->90", [e, e2])
f = api.PyObject_Malloc(100); step("obj malloc 100", [f])
f2 = api.PyObject_Realloc(f, 3000); step("obj realloc 100->3000", [f, f2])
api.PyMem_RawFree(a); step("raw free", [a])
g = api.PyMem_RawRealloc(None, 33); step("raw realloc NULL 33", [g])
import _testcapi
live_tb = {hex(p): _testcapi.tracemalloc_get_traceback(0, p) for p in (a, b, c, d, e2, f2, g)}
snap = tracemalloc.take_snapshot().filter_traces([Filter(True, __file__)])
out["live"] = {
    "file": __file__, "steps": steps, "tracebackOf": {k: v and [list(x) for x in v] for k, v in live_tb.items()},
    # ctypes leaves 32-byte objects on every line: keep only the traces of the PyMem calls themselves
    "ours": sorted([[t.domain, t.size, t.traceback[0].lineno] for t in snap.traces
                    if t.size != 32 and t.traceback[0].lineno in {s["line"] for s in steps}]),
}
tracemalloc.stop()
out["afterStopTracemalloc"] = tracemalloc.get_tracemalloc_memory()
out["tracedAfterStop"] = list(tracemalloc.get_traced_memory())
print(json.dumps(out))
