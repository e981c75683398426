#!/usr/bin/env python3
"""Checks that GTKWave reads a VCD the way aimsim meant it.

Converts VCD -> FST with GTKWave's vcd2fst, back with fst2vcd, and compares
every signal's sequence of (time, value) changes between the original and
the round-tripped dump. vcd2fst alone exits 0 even on garbage, so the
comparison is what makes this a check. Usage: vcd-roundtrip.py FILE.vcd
"""
import subprocess
import sys
import tempfile


def parse(text):
    names, path, changes, t = {}, [], {}, 0
    tokens = text.split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "$scope":
            path.append(tokens[i + 2])
            i += 4
        elif tok == "$upscope":
            path.pop()
            i += 2
        elif tok == "$var":
            code, ref = tokens[i + 3], tokens[i + 4]
            names[code] = ".".join(path + [ref])
            i = tokens.index("$end", i) + 1
        elif tok in ("$comment", "$date", "$version", "$timescale"):
            i = tokens.index("$end", i) + 1
        elif tok.startswith("$"):
            i += 1
        elif tok.startswith("#"):
            t = int(tok[1:])
            i += 1
        elif tok[0] in "bBrR":
            val = int(tok[1:], 2) if tok[0] in "bB" else float(tok[1:])
            changes.setdefault(names[tokens[i + 1]], []).append((t, val))
            i += 2
        else:
            changes.setdefault(names[tok[1:]], []).append((t, int(tok[0])))
            i += 1
    out = {}
    for name, seq in changes.items():
        dedup = []
        for t, v in seq:
            if dedup and dedup[-1][0] == t:
                dedup.pop()
            if not dedup or dedup[-1][1] != v:
                dedup.append((t, v))
        out[name] = dedup
    return set(names.values()), out


def main(path):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["vcd2fst", path, f"{d}/x.fst"], check=True, capture_output=True)
        r = subprocess.run(["fst2vcd", f"{d}/x.fst"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{path}: GTKWave could not convert it ({r.stdout.strip()} {r.stderr.strip()})")
        back = r.stdout
    want_vars, want = parse(open(path).read())
    got_vars, got = parse(back)
    if not want_vars:
        sys.exit(f"{path}: no variables declared")
    if want_vars != got_vars:
        sys.exit(f"{path}: variables differ after vcd2fst/fst2vcd: {sorted(want_vars ^ got_vars)}")
    for name in sorted(want_vars):
        a, b = want.get(name, []), got.get(name, [])
        # GTKWave prints reals with 16 significant digits; aimsim writes the
        # shortest exact form (up to 17), so reals agree to ~1e-16 relative.
        same = len(a) == len(b) and all(
            ta == tb and (va == vb or abs(va - vb) <= 1e-15 * max(abs(va), abs(vb)))
            for (ta, va), (tb, vb) in zip(a, b)
        )
        if not same:
            sys.exit(f"{path}: signal {name} differs after vcd2fst/fst2vcd")
    n = sum(len(v) for v in want.values())
    print(f"{path}: {len(want_vars)} signals, {n} changes survive vcd2fst/fst2vcd")


if __name__ == "__main__":
    main(sys.argv[1])
