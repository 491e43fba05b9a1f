"""Run by tests/test_reliability.py in its own process: resident memory over
20,000 jitted calls (value and value_and_grad, n = 1000) after warm-up.

Prints the resident set size before and after and exits non-zero when it grew
by 5% or more. A process of its own, so that other tests' caches and
allocations do not blur the measurement.
"""

import gc
import sys

import jax
import jax.numpy as jnp
import numpy as np

import bspline_callback as bc

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000


def rss_bytes():
    """Current resident set size, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


k = 3
t = bc.uniform_knots(0.0, 1.0, 20, k)
dtype = jnp.result_type(float)
rng = np.random.default_rng(0)
xs = [jnp.asarray(rng.uniform(0.0, 1.0, 1000), dtype) for _ in range(8)]
w = jnp.asarray(rng.normal(size=20), dtype)
value = jax.jit(lambda x: bc.design_matrix(x, t, k))
vg = jax.jit(jax.value_and_grad(lambda x: jnp.sum(bc.bspline(x, t, w, k))))


def calls(n):
    for i in range(n // 2):
        x = xs[i % len(xs)]
        jax.block_until_ready(value(x))
        jax.block_until_ready(vg(x))


calls(2_000)  # warm-up: compile, fill caches and allocator pools
gc.collect()
before = rss_bytes()
calls(CALLS)
gc.collect()
after = rss_bytes()
growth = (after - before) / before
print(
    f"rss before {before / 2**20:.1f} MiB, after {CALLS} calls "
    f"{after / 2**20:.1f} MiB, growth {100 * growth:.2f}%"
)
sys.exit(0 if growth < 0.05 else 1)
