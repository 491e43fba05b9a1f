"""Timing helpers shared by the benchmark scripts.

Every table compares contenders measured side by side in one run: medians
of interleaved repeats, so that the noise of a shared machine hits them
alike. Only ratios from one run are meant to be compared.
"""

import collections
import glob
import gzip
import json
import os
import platform
import resource
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np


def bench(fns, *, min_time=0.2, repeats=7):
    """Median seconds per call of each zero-argument function, the repeats
    interleaved across functions."""
    for f in fns.values():  # warm up (compile) and size the inner loop
        f()
    inner = {}
    for name, f in fns.items():
        t0 = time.perf_counter()
        f()
        dt = max(time.perf_counter() - t0, 1e-6)
        inner[name] = max(1, int(min_time / repeats / dt))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                f()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: float(np.median(v)) for name, v in samples.items()}


def sync(f):
    """``f`` that waits for its results."""
    return lambda *a: jax.block_until_ready(f(*a))


def timed_jit(f, *args):
    """A zero-argument call of the jitted ``f`` on ``args``, synchronised."""
    jitted = jax.jit(f)
    return lambda: sync(jitted)(*args)


def in_loop(step, init, length=100):
    """A zero-argument call running ``step`` ``length`` times in one jitted
    ``fori_loop`` (as inside NUTS: no dispatch per step)."""
    loop = jax.jit(lambda c: jax.lax.fori_loop(0, length, lambda i, c: step(c), c))
    return lambda: sync(loop)(init)


def points(n, seed=0):
    """``n`` points in (0, 1) in JAX's float dtype."""
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(0.01, 0.99, n), jnp.result_type(float))


def machine_line():
    """What the tables were measured on."""
    return (
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} "
        f"cores, jax {jax.__version__} ({jax.default_backend()}), dtype "
        f"{np.dtype(jnp.result_type(float)).name}"
    )


def kernel_times(f, calls=50):
    """µs per call of each XLA kernel (and the host call) that ``f`` runs,
    from a ``jax.profiler`` trace of ``calls`` calls: ``{name: µs}``."""
    for _ in range(5):
        f()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(calls):
                f()
        (path,) = glob.glob(os.path.join(tmp, "**", "*.trace.json.gz"), recursive=True)
        with gzip.open(path) as fh:
            events = json.load(fh)["traceEvents"]
    out = collections.Counter()
    for e in events:
        name = e.get("name", "")
        # XLA's kernels and the custom call are lower-case single words; the
        # rest are Python frames ("$...") and the runtime's own spans.
        if e.get("ph") == "X" and name[:1].islower() and " " not in name:
            out[name] += e["dur"] / calls
    return dict(out.most_common())


def page_faults(f, calls=20):
    """Minor page faults per call of ``f`` (memory the allocator handed back
    to the system and takes again), after a warm-up."""
    for _ in range(5):
        f()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        f()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls
