"""``points_outside``: the spline calls of a numpyro model with points outside.

Counts are checked against numpy on the same parameter values, taken from
numpyro's own trace of the model, not from the package.
"""

import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro import handlers
from numpyro.infer import init_to_median, init_to_uniform

import bspline_callback as bc

KNOTS = bc.uniform_knots(1.0, 3.0, 6)
X_OBS = jnp.asarray(np.linspace(1.0, 3.0, 40), jnp.float32)


def model(x_obs, extrapolate=False, jitted=False):
    with numpyro.plate("obs", x_obs.shape[0]):
        x = numpyro.sample("x", dist.Normal(2.0, 1.0))
        numpyro.sample("x_obs", dist.Normal(x, 0.1), obs=x_obs)
    c = numpyro.sample("c", dist.Normal(0.0, 1.0).expand([6]).to_event(1))

    def spline(x, c):
        return bc.bspline(x, KNOTS, c, 3, extrapolate=extrapolate)  # the call site

    mean = (jax.jit(spline) if jitted else spline)(x, c)
    numpyro.sample("y", dist.Normal(mean, 0.1), obs=jnp.zeros_like(x_obs))


LINE = next(
    i + 1
    for i, line in enumerate(Path(__file__).read_text().splitlines())
    if line.strip().endswith("# the call site")
)


def _outside(x):
    x = np.asarray(x, np.float64)
    return int(np.count_nonzero((x < 1.0) | (x > 3.0)))


def _initial_x(strategy, seed=0):
    seeded = handlers.substitute(handlers.seed(model, seed), substitute_fn=strategy)
    with numpyro.validation_enabled(False):
        return handlers.trace(seeded).get_trace(X_OBS)["x"]["value"]


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit inside"])
def test_at_numpyros_initial_point(jitted):
    """numpyro's default start, uniform on (-2, 2): most latent points lie
    outside [1, 3]; prior medians (x = 2) put every one inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # records, never warns
        found = bc.points_outside(model, X_OBS, jitted=jitted)
    (call,) = found
    assert call.where == "initial point" and call.function == "bspline"
    assert call.call_site == f"{__file__}:{LINE}"
    assert call.points == 40
    assert call.outside == _outside(_initial_x(init_to_uniform)) > 0
    assert "[1.0, 3.0]" in str(call) and f"{call.outside} of 40" in str(call)
    assert bc.points_outside(model, X_OBS, init_strategy=init_to_median()) == []
    assert bc.points_outside(model, X_OBS, extrapolate="linear") == []


def test_at_posterior_draws():
    """Draws 0 and 9 move 3 and 1 latent points outside; the rest are inside."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1.2, 2.8, (10, 40))
    x[0, :3] = [0.5, 3.5, 0.9]
    x[9, 7] = 3.01
    samples = {"x": jnp.asarray(x), "c": jnp.asarray(rng.normal(size=(10, 6)))}
    found = bc.points_outside(model, X_OBS, samples=samples, num_draws=10)
    assert [(c.where, c.outside) for c in found] == [("draw 0", 3), ("draw 9", 1)]
    found = bc.points_outside(model, X_OBS, samples=samples, num_draws=2)
    assert [c.where for c in found] == ["draw 0", "draw 9"]
    with pytest.raises(ValueError, match="one leading number of draws"):
        bc.points_outside(model, X_OBS, samples={"x": x, "c": x[:5]})


def test_the_warning_names_the_diagnostic():
    with pytest.warns(UserWarning, match=r"bspline_callback.points_outside"):
        bc.design_matrix(np.array([0.0, 2.0]), KNOTS, 3)


@pytest.mark.slow
def test_record_outside_sees_the_proposals_nuts_rejects():
    """Started inside, NUTS proposes latent points past the knots (the NaN
    wall): the checked run records them at the spline's line; the draws
    themselves, accepted states, are all inside."""
    from numpyro.infer import MCMC, NUTS, init_to_value

    start = init_to_value(values={"x": X_OBS, "c": jnp.zeros(6)})
    mcmc = MCMC(
        NUTS(model, init_strategy=start),
        num_warmup=60,
        num_samples=20,
        progress_bar=False,
    )
    with bc.record_outside() as found:
        mcmc.run(jax.random.PRNGKey(1), X_OBS)
    assert found, "no evaluation with points outside was recorded"
    assert {(c.where, c.function, c.call_site) for c in found} == {
        ("traced call", "bspline", f"{__file__}:{LINE}")
    }
    assert all(1 <= c.outside <= c.points == 40 for c in found)
    assert all(_outside(x) == 0 for x in mcmc.get_samples()["x"])
    assert int(mcmc.get_extra_fields()["diverging"].sum()) > 0
