"""Is a change slower? The package at a git revision against the working tree.

The public calls of ``probe.py`` and the examples' wall times, each version
in its own process, the versions alternated over several rounds (medians of
the probes, the best of the example runs): the noise of a shared machine
hits both alike. The probes run with glibc's allocator thresholds fixed
(``ALLOCATOR``). Prints a Markdown table of before, after and after/before.

Run: ``python benchmarks/compare.py REV [--rounds 3] [--examples]``
(``--examples``: also each example at its default settings, once per round).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import machine_line

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = [
    "curve_alignment",
    "derivative_observations",
    "measurement_error",
    "question_model",
    "scipy_interpolant",
]


def export(rev, into):
    """The tree of ``rev`` in the directory ``into``."""
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


#: glibc's thresholds fixed, so that no host call hands memory back to the
#: system and faults it in again: otherwise each process's allocator state
#: differs more between processes than the versions do (docs/performance.md).
ALLOCATOR = {
    "MALLOC_MMAP_THRESHOLD_": "268435456",
    "MALLOC_TRIM_THRESHOLD_": "268435456",
}


def probe(tree, quick, only):
    env = dict(os.environ, PYTHONPATH=tree, **ALLOCATOR)
    cmd = [sys.executable, os.path.join(HERE, "probe.py"), "--only", only]
    cmd += ["--examples", os.path.join(tree, "examples")] + (
        ["--quick"] if quick else []
    )
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(tree), result["package"]
    return result["times"]


def example_time(tree, name):
    """Total wall seconds of one example run at its defaults."""
    env = dict(os.environ, PYTHONPATH=tree, MPLBACKEND="Agg")
    script = os.path.join(tree, "examples", f"{name}.py")
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, script],
            env=env,
            cwd=work,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    assert re.search(r"NaN-free: True|all true values inside", out), out[-2000:]
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="only the probe's calls with this")
    args = parser.parse_args()
    results = {"before": {}, "after": {}}
    with tempfile.TemporaryDirectory() as before:
        export(args.rev, before)
        trees = {"before": before, "after": ROOT}
        for _ in range(args.rounds):
            for label, tree in trees.items():
                for key, value in probe(tree, args.quick, args.only).items():
                    results[label].setdefault(key, []).append(value)
                if args.examples:
                    for name in EXAMPLES:
                        if os.path.exists(os.path.join(tree, "examples", f"{name}.py")):
                            key = f"example {name}: total wall"
                            results[label].setdefault(key, []).append(
                                example_time(tree, name)
                            )
    print(f"{args.rev} (before) against the working tree (after); {machine_line()}\n")
    print("| call | before | after | after / before |")
    print("|---|---:|---:|---:|")
    for key, before in results["before"].items():
        after = results["after"].get(key)
        if after is None:
            continue
        pick = min if key.startswith("example") else np.median
        b, a = pick(before), pick(after)
        unit, scale = ("s", 1) if key.startswith("example") else ("µs", 1e6)
        print(
            f"| {key} | {b * scale:.1f} {unit} | {a * scale:.1f} {unit} | {a / b:.2f} |"
        )


if __name__ == "__main__":
    main()
