"""Re-records every fixture in ../fixtures from the live CPython on this machine.

Run from anywhere: python3 packages/pymem/test/live/record.py   (needs CPython 3.11 with _testcapi)
"""
import json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")

def run(script, *args, env=None):
    e = dict(os.environ); e.pop("PYTHONMALLOC", None); e.pop("PYTHONTRACEMALLOC", None); e.update(env or {})
    return subprocess.run([sys.executable, script, *args], cwd=HERE, env=e, capture_output=True, text=True)

def write(name, data):
    with open(os.path.join(FIX, name), "w") as fh:
        json.dump(data, fh, indent=1); fh.write("\n")

meta = {"python": sys.version.split()[0]}
presets = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"]

write("debug-blocks.json", {**meta, "presets": {m: json.loads(run("probe_debug.py", env={"PYTHONMALLOC": m}).stdout)
                                              for m in ("debug", "malloc_debug", "pymalloc_debug")}})
write("edges.json", {**meta, "presets": {m: json.loads(run("probe_edges.py", env={"PYTHONMALLOC": m}).stdout) for m in presets}})

cases = ["bad-id-mem-obj", "bad-id-raw-mem", "bad-id-obj-raw-realloc", "underflow-p-1", "underflow-p-8",
         "underflow-realloc", "overflow-1", "overflow-40", "overflow-0", "overflow-raw-9", "gil-malloc", "gil-obj-free"]
fatal = []
for case in cases:
    for malloc, traced in (("debug", False), ("malloc_debug", False), ("debug", True)):
        env = {"PYTHONMALLOC": malloc}
        if traced: env["PYTHONTRACEMALLOC"] = "5"
        r = run("probe_fatal.py", case, env=env)
        fatal.append({"case": case, "pythonmalloc": malloc, "tracemalloc": traced, "exitStatus": r.returncode,
                      "p": r.stdout.strip() or None, "stderr": r.stderr})
write("fatal-errors.json", {**meta, "cases": fatal})

write("tracemalloc-tables.json", {**meta, **json.loads(run("probe_tables.py").stdout)})

tm = json.loads(run("probe_tracemalloc.py").stdout)
write("tracemalloc.json", {**meta, **tm})
print("recorded", len(fatal), "fatal cases")
