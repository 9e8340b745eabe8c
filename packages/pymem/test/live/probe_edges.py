"""Live probe of the PyMem wrappers' edge semantics (CPython 3.11 §1.6): which calls return NULL.

Prints JSON {allocator, results: {label: bool (non-NULL)}} for the PYTHONMALLOC in effect.
"""
import ctypes, json, _testcapi

api = ctypes.pythonapi
for fam in ("PyMem_Raw", "PyMem_", "PyObject_"):
    for op, args in (("Malloc", [ctypes.c_size_t]), ("Calloc", [ctypes.c_size_t, ctypes.c_size_t]),
                     ("Realloc", [ctypes.c_void_p, ctypes.c_size_t])):
        getattr(api, fam + op).restype = ctypes.c_void_p; getattr(api, fam + op).argtypes = args
    getattr(api, fam + "Free").argtypes = [ctypes.c_void_p]
FAMS = {"raw": "PyMem_Raw", "mem": "PyMem_", "obj": "PyObject_"}
res = {}
for dom, fam in FAMS.items():
    m, c, r, f = (getattr(api, fam + op) for op in ("Malloc", "Calloc", "Realloc", "Free"))
    def keep(label, p):
        res[f"{dom} {label}"] = bool(p)
        if p: f(p)
    keep("malloc(0)", m(0))
    keep("malloc(2**63)", m(2 ** 63))
    keep("malloc(2**63-1)", m(2 ** 63 - 1))
    keep("malloc(2**63-24)", m(2 ** 63 - 24))
    keep("malloc(2**63-25)", m(2 ** 63 - 25))
    keep("malloc(2**62)", m(2 ** 62))
    keep("calloc(0,2**64-1)", c(0, 2 ** 64 - 1))
    keep("calloc(2**64-1,0)", c(2 ** 64 - 1, 0))
    keep("calloc(2**62,2)", c(2 ** 62, 2))
    keep("calloc(2**61,2)", c(2 ** 61, 2))
    keep("calloc(0,0)", c(0, 0))
    keep("realloc(NULL,0)", r(None, 0))
    keep("realloc(NULL,10)", r(None, 10))
    p = m(10); q = r(p, 2 ** 63); res[f"{dom} realloc(p,2**63)"] = bool(q); f(p)
    p = m(10); q = r(p, 0); res[f"{dom} realloc(p,0)"] = bool(q); f(q)
    p = m(100); q = r(p, 0); res[f"{dom} realloc(p100,0) moved"] = q != p; f(q)
    f(None); res[f"{dom} free(NULL)"] = True
print(json.dumps({"allocator": _testcapi.pymem_getallocatorsname(), "results": res}))
