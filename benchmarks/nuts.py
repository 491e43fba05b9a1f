"""What does the package cost inside NUTS, and what do you get per second?

The curve-alignment model (``examples/curve_alignment.py``: 4 series of 40
points, 16 cubic basis functions, one traced basis call of 160 points per
potential evaluation) with ``backend="callback"`` and ``backend="jax"``.

First table: µs per gradient of numpyro's potential at the initial point,
as one jitted call, under ``vmap`` over 2 chains (``chain_method=
"vectorized"``), and inside one jitted loop of 100 dependent gradients (as
inside NUTS); the floor row is the same model whose basis is an empty host
call of the same shapes (``differentiable_callback`` returning zeros): the
model and the host call around the work.

Second table: NUTS itself, 1 and 2 vectorized chains; the sampling run is
timed with its compile time subtracted (``MCMC.run`` recompiles its loop on
every call). µs per gradient is the sampling time over the leapfrog steps
(the most of any chain per iteration); ESS/s the smallest bulk effective
sample size over the sampled sites per sampling second.

Run: ``python benchmarks/nuts.py [--quick]`` (--quick: 100 warm-up and 100
samples instead of 500 and 500).
"""

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, in_loop, machine_line, timed_jit
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, init_to_median
from numpyro.infer.util import initialize_model

import bspline_callback as bc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import curve_alignment as ca  # noqa: E402

BACKENDS = ("callback", "jax")
SEED = 2


class EmptyBasis:
    """The model's ``basis`` with the host work taken out: one host call of
    the same shapes, returning zeros, through the package's own route."""

    def __init__(self, n_basis):
        self.n_basis = n_basis
        zeros = lambda x, nu: np.zeros((x.shape[0], n_basis))  # noqa: E731
        self._f = bc.differentiable_callback(zeros, feature_shape=n_basis)

    def basis(self, x):
        return self._f(x)


def problem(backend):
    """The example's data and model arguments with the given basis."""
    u, y, _, _ = ca.simulate(np.random.default_rng(SEED))
    base = ca.make_basis()
    basis = (
        EmptyBasis(base.n_basis)
        if backend == "empty"
        else bc.BSplineBasis(base.t, base.k, backend=backend)
    )
    margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
    return (jnp.asarray(u), basis, y.shape[0], margin), {"y": jnp.asarray(y)}


def gradient_table():
    fns = {}
    for backend in (*BACKENDS, "empty"):
        args, kwargs = problem(backend)
        info = initialize_model(
            jax.random.PRNGKey(0),
            ca.model,
            model_args=args,
            model_kwargs=kwargs,
            init_strategy=init_to_median,
        )
        z = info.param_info.z
        vg = jax.value_and_grad(info.potential_fn)

        def descend(z, vg=vg):
            return jax.tree.map(lambda a, g: a - 1e-6 * g, z, vg(z)[1])

        z2 = jax.tree.map(lambda a: jnp.stack([a, a]), z)
        fns[(backend, "jitted")] = timed_jit(vg, z)
        fns[(backend, "vmap x2")] = timed_jit(jax.vmap(vg), z2)
        fns[(backend, "loop")] = in_loop(descend, z, 100)
    r = bench(fns)
    print("µs per gradient of the potential:\n")
    print("| model | jitted | vmap over 2 chains | in a jitted loop |")
    print("|---|---:|---:|---:|")
    labels = {"callback": "callback", "jax": "jax", "empty": "floor (empty host call)"}
    for backend, label in labels.items():
        row = [r[(backend, c)] * 1e6 for c in ("jitted", "vmap x2", "loop")]
        row[2] /= 100
        print(f"| {label} | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} |")
    print()


class CompileClock:
    """Seconds JAX spends tracing, lowering and compiling, from its monitoring
    events. ``MCMC.run`` retraces and recompiles its sampling loop on every
    call (seconds here: more than the sampling itself with the jax backend),
    so the sampling time is a run's wall time minus this."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event, duration, **_):
        if event in self.EVENTS:
            self.seconds += duration


def nuts_run(backend, num_warmup, num_samples, num_chains, clock):
    """Sampling seconds (compile excluded), compile seconds, leapfrog steps
    (per iteration, the most of any chain: vectorized chains wait for each
    other) and the smallest bulk ESS over the sampled sites."""
    args, kwargs = problem(backend)
    mcmc = MCMC(
        NUTS(ca.model, init_strategy=init_to_median),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.warmup(jax.random.PRNGKey(SEED), *args, **kwargs)
    mcmc.post_warmup_state = mcmc.last_state
    compile_before = clock.seconds
    start = time.perf_counter()
    mcmc.run(
        mcmc.post_warmup_state.rng_key, *args, extra_fields=("num_steps",), **kwargs
    )
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    wall = time.perf_counter() - start
    compile_s = clock.seconds - compile_before
    steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
    ess = min(
        float(np.min(effective_sample_size(np.asarray(v))))
        for name, v in samples.items()
        if name != "mean"  # a deterministic site
    )
    return wall - compile_s, compile_s, int(steps.max(axis=0).sum()), ess


def nuts_table(num_warmup, num_samples, num_chains, clock):
    print(
        f"NUTS, {num_chains} chain(s) vectorized, {num_warmup} warm-up + "
        f"{num_samples} samples; the sampling run is timed, its compile time "
        f"subtracted:\n"
    )
    print(
        "| backend | µs per gradient | leapfrog steps | sampling s | compile s "
        "| min ESS | ESS/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    out = {}
    for backend in BACKENDS:
        seconds, compile_s, steps, ess = nuts_run(
            backend, num_warmup, num_samples, num_chains, clock
        )
        out[backend] = seconds / steps
        print(
            f"| {backend} | {seconds / steps * 1e6:.0f} | {steps} | {seconds:.2f} "
            f"| {compile_s:.1f} | {ess:.0f} | {ess / seconds:.0f} |",
            flush=True,
        )
    print(
        f"\nµs per gradient inside NUTS, callback / jax: "
        f"{out['callback'] / out['jax']:.2f}\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 warm-up, 100 samples")
    args = parser.parse_args()
    print(machine_line() + "\n")
    gradient_table()
    n = 100 if args.quick else 500
    clock = CompileClock()
    for chains in (1, 2):
        nuts_table(n, n, chains, clock)


if __name__ == "__main__":
    main()
