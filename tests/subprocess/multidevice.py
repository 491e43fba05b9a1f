"""Run by tests/test_reliability.py in its own process with 4 forced CPU devices.

``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (and ``JAX_PLATFORMS=cpu``,
so that a machine with a GPU forces CPU devices too) must be set before JAX
starts, which is why this is a separate process. Each check prints one line;
any failed check raises (non-zero exit). ``--nuts`` also samples the
curve-alignment model with 4 parallel chains.
"""

import os
import sys
import threading

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

import bspline_callback as bc
from bspline_callback import _transport

assert jax.device_count() == 4, jax.devices()
# Several CPU devices: the package keeps pure_callback (an unannotated
# buffer_callback would run on every device for the sharded jit below).
assert not _transport._buffer_path()
dtype = jnp.result_type(float)
tol = 1e-12 if dtype == jnp.float64 else 2e-6

k = 3
t = bc.uniform_knots(0.0, 1.0, 10, k)
rng = np.random.default_rng(0)
x = jnp.asarray(rng.uniform(0.0, 1.0, 256), dtype)
w = jnp.asarray(rng.normal(size=10), dtype)

# A host function that records the size of every batch it is called with and
# the thread it runs on, to show where callbacks run under each transform.
seen = []
lock = threading.Lock()
scipy_basis = bc.BSplineBasis(t, k)


def recording_host(xh, nu):
    with lock:
        seen.append(xh.shape[0])
    return np.asarray(scipy_basis.basis(xh, nu))  # concrete: host values


recorded = bc.differentiable_callback(recording_host, feature_shape=10)


def both(fn):
    """Values and the gradient of sum(fn(x) @ w) in x."""
    return lambda x: (fn(x), jax.grad(lambda x: jnp.sum(fn(x) @ w))(x))


def check(name, got, want, calls=None):
    jax.block_until_ready(got)  # callbacks run asynchronously to dispatch
    for g, r in zip(got, want, strict=True):
        err = float(jnp.max(jnp.abs(jnp.asarray(g) - r)))
        assert err <= tol * max(1.0, float(jnp.max(jnp.abs(r)))), (name, err)
    where = f"; host_fn calls saw {calls} points" if calls else ""
    print(f"{name}: equal to one device{where}")


functions = {
    "design_matrix": lambda x: bc.design_matrix(x, t, k),
    "bspline": lambda x: bc.bspline(x, t, jnp.eye(10, dtype=dtype), k),
    "backend=jax": lambda x: bc.design_matrix(x, t, k, backend="jax"),
    "differentiable_callback": recorded,
}
reference = {name: jax.jit(both(fn))(x) for name, fn in functions.items()}

mesh = jax.make_mesh((4,), ("d",))
x_sharded = jax.device_put(x, NamedSharding(mesh, P("d")))
for name, fn in functions.items():
    seen.clear()
    sharded = jax.jit(
        jax.shard_map(both(fn), mesh=mesh, in_specs=P("d"), out_specs=P("d"))
    )(x_sharded)
    check(f"shard_map {name}", sharded, reference[name], seen)
    if name == "differentiable_callback":
        # Per shard, with that shard's 64 points only: the value (nu=0) and
        # the gradient's one callback (host_fn at nu=0 and 1).
        assert seen == [64] * 12, seen

    seen.clear()
    pmapped = jax.pmap(both(fn))(x.reshape(4, 64))
    check(
        f"pmap {name}",
        [a.reshape(256, *a.shape[2:]) for a in pmapped],
        reference[name],
        seen,
    )
    if name == "differentiable_callback":
        assert seen == [64] * 12, seen

    # Plain jit on an input sharded over the 4 devices: the callback is one
    # call on one device, with the whole array gathered to it.
    seen.clear()
    out = jax.jit(both(fn))(x_sharded)
    check(f"jit on sharded x {name}", out, reference[name], seen)
    if name == "differentiable_callback":
        assert seen == [256] * 3, seen

if "--nuts" in sys.argv:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import curve_alignment as ca
    from numpyro.infer import MCMC, NUTS, init_to_median

    u, y, _, _ = ca.simulate(np.random.default_rng(2))
    margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
    mcmc = MCMC(
        NUTS(ca.model, init_strategy=init_to_median),
        num_warmup=40,
        num_samples=40,
        num_chains=4,
        chain_method="parallel",
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(0),
        jnp.asarray(u),
        ca.make_basis(),
        y.shape[0],
        margin,
        y=jnp.asarray(y),
    )
    delta = np.asarray(mcmc.get_samples(group_by_chain=True)["delta"])
    assert delta.shape == (4, 40, y.shape[0] - 1), delta.shape
    assert np.isfinite(delta).all() and (np.abs(delta) <= margin).all()
    # Each chain moved: no chain stuck at its initial point.
    assert (delta.std(axis=1) > 0).all()
    print("numpyro parallel: 4 chains, one per device, sampled")
print("all multi-device checks passed")
