"""Writes seeded random scripts (scripts/random-N.txt) for the glibc driver."""
import random, sys
def script(seed, n):
    r = random.Random(seed)
    live, out, nxt = [], [f"# random script, seed {seed}"], 0
    def size():
        k = r.random()
        if k < 0.55: return r.randint(0, 128)
        if k < 0.80: return r.randint(129, 1100)
        if k < 0.95: return r.randint(1100, 40000)
        return r.randint(40000, 300000)
    for _ in range(n):
        k = r.random()
        if live and k < 0.42:
            s = live.pop(r.randrange(len(live))); out.append(f"f {s}")
        elif live and k < 0.50:
            s = live.pop(r.randrange(len(live))); out.append(f"r {nxt} {s} {size()}"); live.append(nxt); nxt += 1
        elif k < 0.54:
            out.append(f"c {nxt} {r.randint(1,8)} {size()//4}"); live.append(nxt); nxt += 1
        elif k < 0.57:
            out.append(f"a {nxt} {r.choice([16,32,64,128,4096])} {size()}"); live.append(nxt); nxt += 1
        else:
            out.append(f"m {nxt} {size()}"); live.append(nxt); nxt += 1
        if nxt >= 4000: break
    for s in live:
        out.append(f"f {s}")
    return "\n".join(out) + "\n"
for seed in range(1, int(sys.argv[1]) + 1):
    open(f"scripts/random-{seed}.txt", "w").write(script(seed, 400))
