"""The curve-alignment NUTS model: cost per potential gradient, ESS per second.

The model is ``examples/curve_alignment.py`` at its default data (4 series of
40 points, 16 cubic basis functions, one traced basis call of 160 points per
potential evaluation), run with ``backend="callback"`` and ``backend="jax"``.

First table (medians of interleaved repeats, ratios from the same run):

- µs per gradient of numpyro's potential function
  (``numpyro.infer.util.initialize_model``) at the initial point: one jitted
  ``value_and_grad`` call, a jitted ``vmap`` over 2 chains (what
  ``chain_method="vectorized"`` runs), and inside one jitted ``fori_loop``
  of dependent gradient steps (as inside NUTS: no dispatch per gradient);
- the floor: an empty ``pure_callback`` returning two outputs of the
  basis' shape (the value and first-derivative levels that the one callback
  of a gradient fetches), jitted and in a loop, plus the host function
  computing those two levels; the callbacks per gradient are counted in the
  jaxpr.

Second table: NUTS itself, with 1 and with 2 vectorized chains. Warm-up runs
first; the sampling run is timed and the compile time inside it (from JAX's
monitoring events: ``MCMC.run`` recompiles its loop on every call) is
subtracted. µs per gradient is that sampling time over the leapfrog steps
(per iteration, the most steps of any chain, since vectorized chains wait
for each other); ESS/s is the smallest bulk effective sample size over all
sampled sites over the sampling time.

Run: ``python benchmarks/nuts.py [--quick]`` (--quick: 100 warm-up and 100
samples instead of 500 and 500).
"""

import argparse
import contextlib
import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from basis import (
    bench,
    empty_callback,
    machine_line,
    pure_callback_route,
    sync,
    timed_jit,
)
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, init_to_median
from numpyro.infer.util import initialize_model

import bspline_callback as bc
from bspline_callback import _bridge, _host

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import curve_alignment as ca  # noqa: E402

BACKENDS = ("callback", "jax")
SEED = 2  # the example's default seed


def problem(backend):
    """The example's data and model arguments with the given backend."""
    u, y, shifts, _ = ca.simulate(np.random.default_rng(SEED))
    base = ca.make_basis()
    basis = bc.BSplineBasis(base.t, base.k, backend=backend)
    margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
    args = (jnp.asarray(u), basis, y.shape[0], margin)
    return args, {"y": jnp.asarray(y)}, u[None, :] + shifts[:, None]


class EmptyBasis:
    """The model's ``basis`` with the host work taken out: ``basis(x)``
    returns zeros through one empty host call, on the route the package
    takes (``_bridge._host_callback``: ``buffer_callback`` or
    ``pure_callback``), fetching the value and first derivative together
    under a derivative as the package does, so the model around the call
    is timed with an ideal callback."""

    def __init__(self, n_basis):
        self.n_basis = n_basis

    def basis(self, x):
        return _empty_level(x, self.n_basis)


def _zeros_like_levels(x, n_basis, count):
    shape = jax.ShapeDtypeStruct(x.shape + (n_basis,), x.dtype)

    def host(x):  # x.shape grows under vmap ("expand_dims")
        return tuple(np.zeros(x.shape + (n_basis,), shape.dtype) for _ in range(count))

    return _bridge._host_callback(host, (shape,) * count, x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _empty_level(x, n_basis):
    return _zeros_like_levels(x, n_basis, 1)[0]


@_empty_level.defjvp
def _empty_level_jvp(n_basis, primals, tangents):
    value, slope = _zeros_like_levels(primals[0], n_basis, 2)
    return value, slope * tangents[0][..., None]


def count_callbacks(f, *args):
    """Host calls in the jaxpr of ``f`` (sub-jaxprs included): on the
    ``buffer_callback`` route each is a ``lax.platform_dependent`` holding a
    ``buffer_callback`` (CPU) and a ``pure_callback`` (other platforms)."""
    text = str(jax.make_jaxpr(f)(*args))
    return text.count("buffer_callback[") or text.count("pure_callback[")


def in_loop(step, init, length=100):
    """A zero-argument call running ``step`` ``length`` times in one jitted
    ``fori_loop`` (as inside NUTS: no dispatch per gradient); the result is
    divided by ``length`` by the caller."""
    loop = jax.jit(lambda c: jax.lax.fori_loop(0, length, lambda i, c: step(c), c))
    return lambda: sync(loop)(init)


#: The timed calls: label and key.
CALLS = (("jitted", "grad"), ("vmap x2", "grad x2"), ("in loop", "loop"))

#: Rows of the gradient table: (label, backend, model basis, host-call route).
ROWS = (
    ("callback", "callback", "package", "auto"),
    ("jax", "jax", "package", "auto"),
    ("model, empty host calls (no host work)", "jax", "empty", "auto"),
    ("callback, pure_callback route", "callback", "package", "pure_callback"),
    ("model, empty pure_callbacks", "jax", "empty", "pure_callback"),
)


def gradient_table(loop_length=100):
    dtype = jnp.result_type(float)
    fns, calls = {}, {}
    for label, backend, model_basis, route in ROWS:
        args, kwargs, x = problem(backend)
        basis = args[1]
        if model_basis == "empty":
            args = (args[0], EmptyBasis(basis.n_basis), *args[2:])
        info = initialize_model(
            jax.random.PRNGKey(0),
            ca.model,
            model_args=args,
            model_kwargs=kwargs,
            init_strategy=init_to_median,
        )
        z = info.param_info.z
        vg = jax.value_and_grad(info.potential_fn)

        def descend(z, vg=vg):  # a tiny gradient step: each depends on the last
            return jax.tree.map(lambda a, g: a - 1e-6 * g, z, vg(z)[1])

        z2 = jax.tree.map(lambda a: jnp.stack([a, a]), z)
        pure = route == "pure_callback"
        with pure_callback_route() if pure else contextlib.nullcontext():
            calls[label] = count_callbacks(vg, z)
            timed = {
                "grad": timed_jit(vg, z),
                "grad x2": timed_jit(jax.vmap(vg), z2),
                "loop": in_loop(descend, z, loop_length),
            }
            for key, f in timed.items():
                f()  # traced and compiled now, on this route
                fns[f"{label} {key}"] = f

    # The floors and host work of the callback backend's one traced call:
    # empty host calls returning the value and first-derivative levels.
    t, k = basis.t, basis.k
    host = _host.HostBasis(t, k)
    x64 = np.asarray(x, np.float64)
    zeros = np.zeros(x.shape + (len(t) - k - 1,), dtype)
    xj = jnp.asarray(x, dtype)
    floor_routes = {"floor": "pure_callback"}
    if _bridge._buffer_path():
        floor_routes["buffer floor"] = "buffer_callback"
    for name, floor_route in floor_routes.items():
        empty = empty_callback(zeros, zeros, route=floor_route)

        def floor(x, empty=empty):
            return x + 1e-6 * empty(x)[0].sum(-1)  # the next call depends on this

        fns[name] = timed_jit(floor, xj)
        fns[f"{name} loop"] = in_loop(floor, xj, loop_length)
    fns["host"] = lambda: host.levels(x64, (0, 1), dtype=dtype)
    r = {key: v * 1e6 for key, v in bench(fns, min_time=0.3).items()}
    for key in list(r):
        if key.endswith("loop"):
            r[key] /= loop_length

    print(
        f"Potential gradient, curve-alignment model ({x.size} points, "
        f"{len(t) - k - 1} basis functions, cubic). µs per gradient: one "
        f"jitted call, a jitted vmap over 2 chains, and inside a jitted "
        f"loop of {loop_length} gradients (no dispatch, as in NUTS):\n"
    )
    print("| model | host calls per gradient | jitted µs | vmap x2 µs | in loop µs |")
    print("|---|---:|---:|---:|---:|")
    for label, *_ in ROWS:
        print(
            f"| {label} | {calls[label]} | {r[label + ' grad']:.0f} "
            f"| {r[label + ' grad x2']:.0f} | {r[label + ' loop']:.0f} |"
        )
    for name, floor_route in floor_routes.items():
        print(
            f"| {name} (an empty {floor_route}, 2 outputs) | 1 "
            f"| {r[name]:.0f} | | {r[name + ' loop']:.0f} |"
        )

    def over_floor(row, floor):
        """row / (floor + host), jitted and in the loop."""
        return ", ".join(
            f"{r[f'{row} {a}'] / (r[f'{floor}{b}'] + r['host']):.2f}"
            for a, b in (("grad", ""), ("loop", " loop"))
        )

    def over_model(row, empty):
        """row / (the model with empty host calls + host), jitted, in loop."""
        return ", ".join(
            f"{r[f'{row} {a}'] / (r[f'{empty} {a}'] + r['host']):.2f}"
            for a in ("grad", "loop")
        )

    def ratios(top, bottom):
        return ", ".join(
            f"{key} {r[f'{top} {a}'] / r[f'{bottom} {a}']:.2f}" for key, a in CALLS
        )

    pure, empty, empty_pure = ROWS[3][0], ROWS[2][0], ROWS[4][0]
    lines = [
        f"host function (value and first derivative) {r['host']:.0f} µs.",
        "callback / (floor + host), jitted and in loop, over the issue's floor "
        f"(an empty pure_callback): {over_floor('callback', 'floor')}; on the "
        f"pure_callback route: {over_floor(pure, 'floor')}.",
    ]
    if "buffer floor" in r:
        lines.append(
            "callback / (buffer floor + host): "
            f"{over_floor('callback', 'buffer floor')}."
        )
    lines += [
        "callback / (model with empty host calls + host): "
        f"{over_model('callback', empty)}; on the pure_callback route: "
        f"{over_model(pure, empty_pure)}.",
        f"callback / jax: {ratios('callback', 'jax')}.",
        f"pure_callback route / callback: {ratios(pure, 'callback')}.",
    ]
    print("\n" + "\n".join(lines) + "\n", flush=True)


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
    args, kwargs, _ = problem(backend)
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
