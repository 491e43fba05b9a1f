"""Reliability: threads, several devices, memory, host errors, robust sampling.

The multi-device and memory checks run in subprocesses (``tests/subprocess``):
forcing 4 host devices must happen before JAX starts, and a memory
measurement needs a process of its own. Long checks are marked ``slow``.
"""

import os
import sys
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import run_python
from scipy.interpolate import CubicSpline

import bspline_callback as bc

HERE = Path(__file__).parent
ROOT = HERE.parent


def _subprocess(script, *args, devices=None, timeout=900):
    env = {}
    if devices:
        # The forced devices are CPU devices: on a machine with a GPU, JAX's
        # default platform would be the one GPU, so the CPU is named too.
        env["JAX_PLATFORMS"] = "cpu"
        env["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={devices}"
        )
    return run_python(
        HERE / "subprocess" / script, args, cwd=ROOT, env=env, timeout=timeout
    )


# --- threads ---------------------------------------------------------------

K = 3
KNOTS = bc.uniform_knots(0.0, 1.0, 12, K)
_CS = CubicSpline(np.linspace(0.0, 1.0, 9), np.sin(np.linspace(0.0, 3.0, 9)))


def _thread_functions():
    """Per thread: a different function of x and a different shape of x."""
    dtype = jnp.result_type(float)
    w = jnp.asarray(np.linspace(-1.0, 1.0, 12), dtype)
    cs = bc.differentiable_callback(lambda x, nu: _CS(x, nu), feature_shape=())
    fns = [
        lambda x: bc.design_matrix(x, KNOTS, K) @ w,
        lambda x: bc.design_matrix(x, KNOTS, K, nu=1) @ w,
        lambda x: bc.bspline(x, KNOTS, w, K),
        lambda x: bc.BSplineBasis(KNOTS, K).basis(x) @ w,
        lambda x: bc.design_matrix(x, KNOTS, K, backend="jax") @ w,
        lambda x: bc.bspline(x, KNOTS, w, K, extrapolate="periodic"),
        cs,
        # Fresh knots per thread: the per-knot caches are filled concurrently.
        lambda x: bc.design_matrix(x, KNOTS * 2.0, K) @ w,
    ]
    shapes = [(7,), (33,), (4, 5), (100,), (2, 3, 4), (64,), (1,), (250,)]
    rng = np.random.default_rng(0)
    out = []
    for i, (f, shape) in enumerate(zip(fns, shapes, strict=True)):
        hi = 2.0 if i == len(fns) - 1 else 1.0
        x = jnp.asarray(rng.uniform(0.0, hi, shape), dtype)
        out.append(
            (
                x,
                jax.jit(f),
                jax.jit(jax.value_and_grad(lambda x, f=f: jnp.sum(f(x)))),
            )
        )
    return out


@pytest.mark.timeout(600)
def test_threads_give_serial_results():
    """8 threads x 500 jitted calls (values and value_and_grad), concurrently:
    every result equals the serial one bit for bit, and nothing deadlocks."""
    work = _thread_functions()
    serial = [
        (np.asarray(f(x)), tuple(np.asarray(a) for a in vg(x))) for x, f, vg in work
    ]
    calls = 500
    start = threading.Barrier(len(work))
    mismatches = [0] * len(work)
    errors = []

    def run(i):
        x, f, vg = work[i]
        value, (v, g) = serial[i]
        try:
            start.wait()
            for j in range(calls):
                if j % 2:
                    out = vg(x)
                    same = np.array_equal(out[0], v) and np.array_equal(out[1], g)
                else:
                    same = np.array_equal(f(x), value)
                mismatches[i] += not same
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert not errors, errors
    assert mismatches == [0] * len(work)


def test_eager_calls_from_threads():
    """Concrete (host-only) calls and basis construction from 8 threads."""
    x = np.linspace(0.0, 1.0, 50)
    want = np.asarray(bc.design_matrix(x, KNOTS, K, nu=2))
    results = [None] * 8

    def run(i):
        results[i] = [
            np.asarray(bc.BSplineBasis(KNOTS, K).basis(x, nu=2)) for _ in range(50)
        ]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for per_thread in results:
        assert per_thread is not None and len(per_thread) == 50
        for r in per_thread:
            np.testing.assert_array_equal(r, want)


# --- several devices -------------------------------------------------------


def test_shard_map_pmap_and_sharded_jit_on_four_devices():
    out = _subprocess("multidevice.py", devices=4)
    assert "all multi-device checks passed" in out
    # The callback path under shard_map and pmap calls the host per shard.
    assert "shard_map differentiable_callback: equal to one device" in out


@pytest.mark.slow
def test_parallel_chains_on_four_devices():
    out = _subprocess("multidevice.py", "--nuts", devices=4)
    assert "numpyro parallel: 4 chains" in out


# --- memory ----------------------------------------------------------------


@pytest.mark.slow
def test_memory_does_not_grow():
    """Resident memory grows < 5% over 20,000 jitted calls after warm-up."""
    out = _subprocess("memory.py", "20000")
    assert "growth" in out


# --- errors raised by a user's host function -------------------------------


class HostError(RuntimeError):
    pass


def _failing(x, nu):
    if np.any(x > 0.5):
        raise HostError(f"cannot evaluate {x.max():.2f} at nu={nu}")
    return x**2 if nu == 0 else 2 * x if nu == 1 else np.full_like(x, 2.0)


def test_host_error_eager_is_the_original_exception():
    f = bc.differentiable_callback(_failing, feature_shape=())
    with pytest.raises(HostError, match="cannot evaluate 0.70 at nu=0") as info:
        f(np.array([0.7, 0.2]))
    assert any("nu=0 for 2 points" in n for n in info.value.__notes__)


@pytest.mark.parametrize(
    "transform",
    [
        jax.jit,
        lambda f: jax.jit(jax.grad(lambda x: jnp.sum(f(x)))),
        lambda f: jax.jit(jax.hessian(lambda x: jnp.sum(f(x)))),
        lambda f: jax.vmap(f),
        lambda f: jax.grad(lambda x: jnp.sum(f(x))),  # eager, but traced x
    ],
    ids=["jit", "jit-grad", "jit-hessian", "vmap", "eager-grad"],
)
def test_host_error_traced_names_type_and_message(transform):
    """Traced calls: JAX raises JaxRuntimeError whose message ends with the
    original exception's type and message; the process goes on working."""
    f = bc.differentiable_callback(_failing, feature_shape=())
    g = transform(lambda x: f(x))
    with pytest.raises(jax.errors.JaxRuntimeError, match=r"HostError: cannot evaluate"):
        jax.block_until_ready(g(jnp.array([0.7, 0.2])))
    ok = jax.block_until_ready(g(jnp.array([0.3, 0.2])))
    assert np.isfinite(np.asarray(ok)).all()


# --- robust sampling ---------------------------------------------------------


def _wide_prior_model(u, basis, num_series, prior_scale, y=None):
    """Shifts with a Normal prior wider than the data margin: proposals put
    points outside the basis interval, where the basis is NaN."""
    import numpyro
    import numpyro.distributions as dist

    coef = numpyro.sample("coef", dist.Normal(0.0, 2.0).expand([basis.n_basis]))
    delta = numpyro.sample(
        "delta", dist.Normal(0.0, prior_scale).expand([num_series - 1])
    )
    x = u[None, :] + jnp.r_[0.0, delta][:, None]
    mean = basis.basis(x) @ coef
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    # validate_args=False: numpyro validates concrete parameters eagerly
    # (init_to_sample traces the model with prior draws) and would raise on
    # the NaN mean instead of letting the NaN log density reject the draw.
    numpyro.sample("y", dist.Normal(mean, sigma, validate_args=False), obs=y)


def _wide_prior_problem():
    sys.path.insert(0, str(ROOT / "examples"))
    import curve_alignment as ca

    u, y, _, _ = ca.simulate(np.random.default_rng(2))
    margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
    return (jnp.asarray(u), ca.make_basis(), y.shape[0]), jnp.asarray(y), margin


@pytest.mark.parametrize("strategy", ["init_to_median", "init_to_sample"])
def test_initialize_model_finds_valid_values(strategy):
    from numpyro import infer
    from numpyro.infer.util import initialize_model

    args, y, margin = _wide_prior_problem()
    # A prior scale of 0.3 against a margin of 0.15: most prior draws of the
    # three shifts put some points outside; numpyro redraws until valid.
    info = initialize_model(
        jax.random.PRNGKey(0),
        _wide_prior_model,
        model_args=(*args, 0.3),
        model_kwargs={"y": y},
        init_strategy=getattr(infer, strategy),
    )
    delta = np.asarray(info.param_info.z["delta"])
    assert (np.abs(delta) <= margin).all()
    assert np.isfinite(float(info.param_info.potential_energy))
    # The NaN policy is what made the redraws necessary: outside the margin
    # the potential is NaN.
    z_out = dict(info.param_info.z, delta=jnp.full_like(delta, 2 * margin))
    assert np.isnan(float(info.potential_fn(z_out)))


@pytest.mark.slow
def test_nuts_completes_with_nan_proposals():
    """NUTS completes; proposals outside are rejected (never accepted)."""
    from numpyro.infer import MCMC, NUTS, init_to_median

    args, y, margin = _wide_prior_problem()
    mcmc = MCMC(
        NUTS(_wide_prior_model, init_strategy=init_to_median),
        num_warmup=100,
        num_samples=100,
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(1),
        *args,
        0.1,
        y=y,
        extra_fields=("diverging", "potential_energy"),
    )
    delta = np.asarray(mcmc.get_samples()["delta"])
    extra = mcmc.get_extra_fields()
    assert (np.abs(delta) <= margin).all()
    assert np.isfinite(np.asarray(extra["potential_energy"])).all()
    # Trajectories reached the wall and were reported as divergent.
    assert np.asarray(extra["diverging"]).any()
