"""Live probe of CPython 3.11's debug hooks (run under PYTHONMALLOC=debug|malloc_debug|pymalloc_debug).

Prints one JSON object: block bytes around p after each call, and the allocator name.
Used by record.py to write test/fixtures/debug-blocks.json.
"""
import ctypes, json, sys, _testcapi

api = ctypes.pythonapi
for fam in ("PyMem_Raw", "PyMem_", "PyObject_"):
    for op in ("Malloc", "Calloc", "Realloc"):
        f = getattr(api, fam + op)
        f.restype = ctypes.c_void_p
    getattr(api, fam + ("Free")).argtypes = [ctypes.c_void_p]
    getattr(api, fam + "Malloc").argtypes = [ctypes.c_size_t]
    getattr(api, fam + "Calloc").argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    getattr(api, fam + "Realloc").argtypes = [ctypes.c_void_p, ctypes.c_size_t]

def fn(fam, op):
    return getattr(api, {"raw": "PyMem_Raw", "mem": "PyMem_", "obj": "PyObject_"}[fam] + op)

def dump(p, before, length):
    return ctypes.string_at(p - before, length).hex()

out = {"allocator": _testcapi.pymem_getallocatorsname(), "blocks": []}
def rec(label, p, n, extra=0):
    out["blocks"].append({"label": label, "size": n, "bytes": dump(p, 16, 16 + n + 8 + extra)})

for fam in ("raw", "mem", "obj"):
    p = fn(fam, "Malloc")(5); rec(f"{fam} malloc(5)", p, 5); fn(fam, "Free")(p)
    p = fn(fam, "Calloc")(2, 3); rec(f"{fam} calloc(2,3)", p, 6); fn(fam, "Free")(p)
    p = fn(fam, "Malloc")(0); rec(f"{fam} malloc(0)", p, 0); fn(fam, "Free")(p)
    # realloc NULL -> malloc
    p = fn(fam, "Realloc")(None, 3); rec(f"{fam} realloc(NULL,3)", p, 3); fn(fam, "Free")(p)
    # grow a small block: data kept, new bytes clean
    p = fn(fam, "Malloc")(4); ctypes.memmove(p, b"ABCD", 4)
    p = fn(fam, "Realloc")(p, 10); rec(f"{fam} malloc(4)+'ABCD'; realloc(10)", p, 10); fn(fam, "Free")(p)
    # shrink 8 -> 2 (in place under pymalloc and glibc): old bytes past the new trailer stay 0xDD
    p = fn(fam, "Malloc")(8); ctypes.memmove(p, b"ABCDEFGH", 8)
    p2 = fn(fam, "Realloc")(p, 2); rec(f"{fam} malloc(8)+'ABCDEFGH'; realloc(2)", p2, 2, 6)
    out["blocks"][-1]["inPlace"] = p2 == p; fn(fam, "Free")(p2)
    # big block (> 128 bytes): only the first and last 64 are saved/erased
    p = fn(fam, "Malloc")(200); ctypes.memmove(p, bytes(i & 0xff for i in range(200)), 200)
    p2 = fn(fam, "Realloc")(p, 180); rec(f"{fam} malloc(200)+bytes(range(200)); realloc(180)", p2, 180, 28)
    out["blocks"][-1]["inPlace"] = p2 == p; fn(fam, "Free")(p2)
    p = fn(fam, "Malloc")(200); ctypes.memmove(p, bytes(i & 0xff for i in range(200)), 200)
    p2 = fn(fam, "Realloc")(p, 300); rec(f"{fam} malloc(200)+bytes(range(200)); realloc(300)", p2, 300)
    fn(fam, "Free")(p2)
    p = fn(fam, "Malloc")(200); ctypes.memmove(p, bytes(i & 0xff for i in range(200)), 200)
    p2 = fn(fam, "Realloc")(p, 100); rec(f"{fam} malloc(200)+bytes(range(200)); realloc(100)", p2, 100, 100)
    out["blocks"][-1]["inPlace"] = p2 == p; fn(fam, "Free")(p2)
# pymalloc hands sizes above 512 (n + 24 > 512, i.e. n >= 489) to PyMem_RawMalloc: the RAW slot's debug
# hooks then decorate the block too, so a second header ('r', size n + 24) sits just before the first.
out["nested"] = []
for fam in ("mem", "obj"):
    for n in (488, 489, 1000):
        p = fn(fam, "Malloc")(n)
        out["nested"].append({"label": f"{fam} malloc({n})", "size": n, "header32": dump(p, 32, 32)})
        fn(fam, "Free")(p)
print(json.dumps(out))
