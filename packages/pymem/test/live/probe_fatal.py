"""Live probe: one misuse of a debug-hooked block per run; CPython prints its report and aborts.

Usage: PYTHONMALLOC=debug python3 probe_fatal.py <case>   (record.py runs every case)
"""
import ctypes, sys

api = ctypes.pythonapi
for fam in ("PyMem_Raw", "PyMem_", "PyObject_"):
    getattr(api, fam + "Malloc").restype = ctypes.c_void_p
    getattr(api, fam + "Malloc").argtypes = [ctypes.c_size_t]
    getattr(api, fam + "Realloc").restype = ctypes.c_void_p
    getattr(api, fam + "Realloc").argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    getattr(api, fam + "Free").argtypes = [ctypes.c_void_p]

def poke(p, offset, byte):
    ctypes.c_uint8.from_address(p + offset).value = byte

case = sys.argv[1]
if case == "bad-id-mem-obj":
    p = api.PyMem_Malloc(16); ctypes.memset(p, 0x43, 16); print(hex(p), flush=True); api.PyObject_Free(p)
elif case == "bad-id-raw-mem":
    p = api.PyMem_RawMalloc(16); ctypes.memset(p, 0x44, 16); print(hex(p), flush=True); api.PyMem_Free(p)
elif case == "bad-id-obj-raw-realloc":
    p = api.PyObject_Malloc(3); ctypes.memset(p, 0x45, 3); print(hex(p), flush=True); api.PyMem_RawRealloc(p, 10)
elif case == "underflow-p-1":
    p = api.PyMem_Malloc(16); ctypes.memset(p, 0x42, 16); poke(p, -1, 0); print(hex(p), flush=True); api.PyMem_Free(p)
elif case == "underflow-p-8":
    p = api.PyMem_Malloc(16); ctypes.memset(p, 0x42, 16); poke(p, -8, 0x21); print(hex(p), flush=True); api.PyMem_Free(p)
elif case == "underflow-realloc":
    p = api.PyObject_Malloc(9); ctypes.memset(p, 0x46, 9); poke(p, -3, 0x11); poke(p, -7, 0x22); print(hex(p), flush=True); api.PyObject_Realloc(p, 20)
elif case == "overflow-1":
    p = api.PyMem_Malloc(16); ctypes.memmove(p, b"0123456789abcdefX", 17); print(hex(p), flush=True); api.PyMem_Free(p)
elif case == "overflow-40":
    p = api.PyMem_Malloc(40); ctypes.memmove(p, bytes(range(0x61, 0x61 + 40)), 40); poke(p, 42, 0x99); print(hex(p), flush=True); api.PyMem_Free(p)
elif case == "overflow-0":
    p = api.PyObject_Malloc(0); poke(p, 7, 0); print(hex(p), flush=True); api.PyObject_Free(p)
elif case == "overflow-raw-9":
    p = api.PyMem_RawMalloc(9); ctypes.memmove(p, b"abcdefghi", 9); poke(p, 9, 0x6a); poke(p, 10, 0x6b); print(hex(p), flush=True); api.PyMem_RawRealloc(p, 4)
elif case == "gil-malloc":
    lib = ctypes.CDLL(None); f = lib.PyMem_Malloc; f.restype = ctypes.c_void_p; f.argtypes = [ctypes.c_size_t]; f(10)
elif case == "gil-obj-free":
    p = api.PyObject_Malloc(10); print(hex(p), flush=True)
    lib = ctypes.CDLL(None); f = lib.PyObject_Free; f.argtypes = [ctypes.c_void_p]; f(p)
elif case == "gil-raw-ok":
    lib = ctypes.CDLL(None); f = lib.PyMem_RawMalloc; f.restype = ctypes.c_void_p; f.argtypes = [ctypes.c_size_t]
    print("ok", f(10) != 0)
