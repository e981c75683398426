#!/usr/bin/env python3
"""Issue 14's speed targets in one run: aimsim's training benches
(`cargo bench -p aimsim --bench scale -- train_samples`) and aihwkit 1.1.0
(`scripts/aihwkit_bench.py`, ConstantStep, one thread) on the same networks
in the same minutes, printed as the Markdown table of docs/performance.md
with each ratio and whether its target is met; and, without a target,
digits-mlp at batch 32 and the conv workload digits-cnn at batch 1 and
32 beside aihwkit on the same networks.

    python3 scripts/speed-vs-aihwkit.py --python /path/to/venv/bin/python

`--python` is an interpreter with `aihwkit==1.1.0 torch==2.10.0` (and
scikit-learn) installed; aimsim's side needs only cargo. aihwkit runs
`--repeats` times per case (default 4 for the digits-mlp epoch and the
batch-32 cases, 2 for the others) and the median is taken; aimsim's figure
is criterion's estimate (the middle of its interval, printed beside it).
The 2-thread rows come twice: from criterion's 1- and 2-thread cases,
each measured for about ten seconds after the other, and from the
`threads` bench (`cargo bench -p aimsim --bench threads`), the median of
paired rounds a second apart, which a machine whose speed drifts over
tens of seconds does not skew; beside each paired row, the bench's
ceiling: what two independent 1-thread runs at once get on this machine,
and the share of it the 2 threads reach. Takes about seven minutes on a 2-core
machine. Nothing else should run: ratios of runs on a shared machine
vary by ±10 % and more (docs/performance.md).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# aimsim bench name -> (aihwkit network, batch, steps, repeats), the same
# timed steps as the bench (its `cases` in crates/aimsim/benches/scale.rs).
CASES = {
    "digits-mlp_b1": ("digits-mlp", 1, 1000, 2),
    "digits-mlp_b1_epoch": ("digits-mlp", 1, 11501, 4),
    "mlp-256-1024-1024-10_b1_t1": ("mlp-256-1024-1024-10", 1, 30, 2),
    "mlp-256-1024-1024-10_b32_t1": ("mlp-256-1024-1024-10", 32, 3, 4),
    # No target: recorded beside aihwkit (issue 14's benchmarks).
    "digits-mlp_b32": ("digits-mlp", 32, 60, 4),
    "digits-cnn_b1": ("digits-cnn", 1, 200, 2),
    "digits-cnn_b32": ("digits-cnn", 32, 60, 4),
}

UNITS = {"elem/s": 1.0, "Kelem/s": 1e3, "Melem/s": 1e6}


def fail(msg):
    print(f"speed-vs-aihwkit: {msg}", file=sys.stderr)
    sys.exit(2)


def aimsim_benches():
    """{bench name: (estimate, low, high) samples/s} of `train_samples`."""
    cmd = ["cargo", "bench", "-p", "aimsim", "--bench", "scale", "--",
           "train_samples", "--noplot"]
    print("$ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"cargo bench failed:\n{out.stderr[-2000:]}")
    found = {}
    name = None
    num = r"([0-9.]+)\s+(elem/s|Kelem/s|Melem/s)"
    for line in out.stdout.splitlines():
        m = re.match(r"^train_samples/(\S+)", line)
        if m:
            name = m.group(1)
        m = re.search(r"thrpt:\s+\[" + num + r"\s+" + num + r"\s+" + num + r"\]", line)
        if m and name and name not in found:
            v = [float(m.group(i)) * UNITS[m.group(i + 1)] for i in (1, 3, 5)]
            found[name] = (v[1], v[0], v[2])
            name = None
    return found


def paired_threads(rounds):
    """{case: (median ratio, [each pair's ratio], (median ceiling, [each
    round's ceiling], median share of it))} of the `threads` bench."""
    cmd = ["cargo", "bench", "-p", "aimsim", "--bench", "threads", "--",
           "--rounds", str(rounds)]
    print("$ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"cargo bench (threads) failed:\n{out.stderr[-2000:]}")
    found, ceilings = {}, {}
    for line in out.stdout.splitlines():
        m = re.match(r"^threads/(\S+):.*ratio of each pair: ([0-9. ]+); median ratio ([0-9.]+)", line)
        if m:
            found[m.group(1)] = (float(m.group(3)), m.group(2).split())
        m = re.match(r"^ceiling/(\S+):.*slower's: ([0-9. ]+); median ([0-9.]+);"
                     r".*ceiling: median ([0-9.]+)", line)
        if m:
            ceilings[m.group(1)] = (float(m.group(3)), m.group(2).split(), float(m.group(4)))
    return {k: v + (ceilings.get(k),) for k, v in found.items()}


def aihwkit(python, network, batch, steps, repeats):
    """The samples/s of `repeats` runs of scripts/aihwkit_bench.py."""
    runs = []
    for _ in range(repeats):
        cmd = [python, os.path.join(ROOT, "scripts", "aihwkit_bench.py"),
               "--network", network, "--batch", str(batch), "--steps", str(steps)]
        print("$ " + " ".join(cmd), file=sys.stderr)
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"aihwkit run failed (is aihwkit 1.1.0 installed for {python}?):\n"
                 f"{out.stderr[-2000:]}")
        last = out.stdout.strip().splitlines()[-1]
        runs.append(json.loads(last)["samples_per_s"])
    return runs


def machine():
    """One line naming the machine the figures come from: CPU model, CPUs,
    threads per core, the vector extensions aimsim's kernels dispatch on,
    and the git commit measured (docs/performance.md names each figure's
    machine; the sessions' machines have differed)."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    smt = "?"
    try:
        with open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list") as f:
            sib = f.read().strip()
        smt = str(len(sib.replace("-", ",").split(","))) if sib else "?"
    except OSError:
        pass
    ext = "/".join(x for x in ("avx2", "fma", "avx512f") if x in flags) or "no AVX2"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return (f"Machine: {model}, {os.cpu_count()} CPUs, {smt} thread(s) per core "
            f"(as the VM reports it), {ext}; aimsim at {rev}"
            f"{' with uncommitted changes' if dirty else ''}.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable,
                    help="Python with aihwkit 1.1.0 and torch 2.10.0 (default: this one)")
    ap.add_argument("--repeats", type=int, default=0,
                    help="aihwkit runs per case (default: 4 or 2, see above)")
    ap.add_argument("--rounds", type=int, default=16,
                    help="paired rounds of the threads bench (default 16)")
    args = ap.parse_args()
    if args.rounds < 1:
        fail(f"--rounds: expected a positive count of rounds, got {args.rounds}")
    if args.repeats < 0:
        fail(f"--repeats: expected a count of runs, got {args.repeats}")
    if not os.access(args.python, os.X_OK):
        fail(f"--python: {args.python} is not an executable interpreter")

    ref = {}
    for bench, (network, batch, steps, repeats) in CASES.items():
        ref[bench] = aihwkit(args.python, network, batch, steps, args.repeats or repeats)
    ours = aimsim_benches()
    threaded = ["mlp-256-1024-1024-10_b1_t2", "mlp-256-1024-1024-10_b32_t2",
                "mlp-256-1024-1024-10_b32_30_t1", "mlp-256-1024-1024-10_b32_30_t2"]
    for bench in list(CASES) + threaded:
        if bench not in ours:
            fail(f"cargo bench printed no throughput for train_samples/{bench}")
    paired = paired_threads(args.rounds)
    for case in ("mlp-256-1024-1024-10_b1", "mlp-256-1024-1024-10_b32",
                 "mlp-256-1024-1024-10_b32_30"):
        if case not in paired:
            fail(f"the threads bench printed no ratio for {case}")

    def row(label, bench, target=None):
        est, lo, hi = ours[bench]
        runs = ref[bench]
        med = statistics.median(runs)
        ratio = est / med
        listed = ", ".join(f"{r:,.1f}" for r in runs)
        if target is None:
            goal, met = "—", "—"
        else:
            goal, met = f"≥ {target:g}×", "yes" if ratio >= target else "no"
        return (f"| {label} | {est:,.1f} /s ({lo:,.0f}–{hi:,.0f}) | {listed} "
                f"(median {med:,.1f}) | **{ratio:.1f}×** | {goal} | {met} |")

    def threads(label, one, two):
        a, b = ours[one][0], ours[two][0]
        ratio = b / a
        met = "yes" if ratio >= 1.7 else "no"
        return f"| {label} | {b:,.1f} / {a:,.1f} /s | | **{ratio:.2f}×** | ≥ 1.7× | {met} |"

    def pairs(label, case):
        ratio, each, ceiling = paired[case]
        met = "yes" if ratio >= 1.7 else "no"
        line = (f"| {label} | median of {len(each)} pairs: {', '.join(each)} | | "
                f"**{ratio:.2f}×** | ≥ 1.7× | {met} |")
        if ceiling:
            top, rounds, share = ceiling
            line += (f"\n| the machine's ceiling for it: two 1-thread runs at once "
                     f"| {', '.join(rounds)} | | {top:.2f}× (2 threads reach "
                     f"{share:.0%} of it) | — | — |")
        return line

    print(machine())
    print()
    print("| target | aimsim (criterion's interval) | aihwkit 1.1.0 runs | ratio | target | met? |")
    print("|---|---|---|---|---|---|")
    print(row("digits-mlp, whole default epoch", "digits-mlp_b1_epoch", 50))
    print(row("digits-mlp, first 1,000 steps", "digits-mlp_b1", 50))
    print(row("256-1024-1024-10, batch 1", "mlp-256-1024-1024-10_b1_t1", 5))
    print(row("256-1024-1024-10, batch 32", "mlp-256-1024-1024-10_b32_t1", 2))
    print(threads("2 threads / 1, batch 1", "mlp-256-1024-1024-10_b1_t1",
                  "mlp-256-1024-1024-10_b1_t2"))
    print(threads("2 threads / 1, batch 32", "mlp-256-1024-1024-10_b32_t1",
                  "mlp-256-1024-1024-10_b32_t2"))
    print(threads("2 threads / 1, batch 32, 30 steps", "mlp-256-1024-1024-10_b32_30_t1",
                  "mlp-256-1024-1024-10_b32_30_t2"))
    print(pairs("2 threads / 1, batch 1, paired", "mlp-256-1024-1024-10_b1"))
    print(pairs("2 threads / 1, batch 32, paired", "mlp-256-1024-1024-10_b32"))
    print(pairs("2 threads / 1, batch 32, 30 steps, paired", "mlp-256-1024-1024-10_b32_30"))
    print(row("digits-mlp, batch 32 (no target)", "digits-mlp_b32"))
    print(row("digits-cnn (convolutions), batch 1 (no target)", "digits-cnn_b1"))
    print(row("digits-cnn, batch 32 (no target)", "digits-cnn_b32"))


if __name__ == "__main__":
    main()
