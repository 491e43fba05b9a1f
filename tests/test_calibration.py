"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and
Gelman 2018, arXiv:1804.06788) of a model whose spline inputs depend on
parameters.

The question's calibration model with few data points: readings ``z`` map to
the instrument's input through an unknown line, ``x = a + b z``, and the
response is a known cubic spline of ``x`` on the question's knots:

    a ~ U(-0.1, 0.1),  b ~ U(0.8, 1.2),  y_i ~ N(s(a + b z_i), 0.05^2).

Parameters are drawn from the prior and data from the model, ``REPLICATIONS``
times; NUTS runs on each data set (all replications in one model of
independent blocks, whose posterior is the product of theirs), and the rank
of each true parameter among its thinned posterior draws is recorded. If the
basis, its derivatives and the sampler are right, the ranks are uniform; a
chi-square test on ``BINS`` equal bins, at level ``LEVEL`` per parameter,
checks it. The same test must fail when the basis is deliberately wrong (its
values at a distorted ``x``), and when its derivative is (the sign of every
derivative level flipped): HMC with a wrong gradient still targets the right
posterior through its accept step, but it stops mixing, and at this chain
length the ranks show it.
"""

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC, NUTS
from scipy import stats
from scipy.interpolate import BSpline

import bspline_callback as bc
from bspline_callback import _basis, _jax_backend, _scipy_host

KNOTS = np.array([0, 0, 0, 0, 0.25, 1, 1, 1, 1], dtype=float)
COEF = np.array([0.0, 1.0, -0.5, 2.0, 0.7])  # the question's weights, c[0] = 0
Z = np.linspace(0.15, 0.75, 8)
SIGMA = 0.05
REPLICATIONS = 100
DRAWS, THIN, WARMUP = 99, 5, 300
BINS = 10
LEVEL = 0.005  # per parameter: about 1% for the pair


def model(backend, y=None):
    with numpyro.plate("replication", REPLICATIONS):
        a = numpyro.sample("a", dist.Uniform(-0.1, 0.1))
        b = numpyro.sample("b", dist.Uniform(0.8, 1.2))
    x = a[:, None] + b[:, None] * Z
    mean = bc.bspline(x, KNOTS, COEF, 3, backend=backend)
    numpyro.sample("y", dist.Normal(mean, SIGMA).to_event(2), obs=y)


def calibration(backend, seed=0):
    """p-values of the rank uniformity test for ``a`` and ``b``."""
    rng = np.random.default_rng(seed)
    truth = {
        "a": rng.uniform(-0.1, 0.1, REPLICATIONS),
        "b": rng.uniform(0.8, 1.2, REPLICATIONS),
    }
    x = truth["a"][:, None] + truth["b"][:, None] * Z
    # Data from scipy's spline: the package under test only fits them.
    y = BSpline(KNOTS, COEF, 3)(x) + SIGMA * rng.normal(size=x.shape)
    mcmc = MCMC(
        NUTS(model),
        num_warmup=WARMUP,
        num_samples=DRAWS * THIN,
        thinning=THIN,
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(seed), backend, y=np.asarray(y, np.float32))
    draws = mcmc.get_samples()
    p = {}
    for name, true in truth.items():
        ranks = (np.asarray(draws[name]) < true).sum(axis=0)  # 0 .. DRAWS
        counts = np.bincount(ranks * BINS // (DRAWS + 1), minlength=BINS)
        p[name] = stats.chisquare(counts).pvalue
    return p


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_ranks_are_uniform(backend):
    p = calibration(backend)
    assert min(p.values()) > LEVEL, p


@pytest.fixture
def fresh_specs():
    """Patched internals must not meet a cached, already traced basis."""
    _basis._sources.cache_clear()
    _basis._cached.cache_clear()
    yield
    _basis._sources.cache_clear()
    _basis._cached.cache_clear()


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_a_wrong_basis_fails(backend, monkeypatch, fresh_specs):
    """The model's basis evaluated at x + 0.05 sin(pi x), the data's at x:
    a distortion that stays inside [0, 1] and that no line a + b z can
    absorb."""
    safe_points = _basis.safe_points

    def distorted(*args):
        bad, x = safe_points(*args)
        xp = np if isinstance(x, np.ndarray) else jax.numpy
        return bad, x + 0.05 * xp.sin(np.pi * x)

    monkeypatch.setattr(_basis, "safe_points", distorted)
    p = calibration(backend)
    assert min(p.values()) < LEVEL, p


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_a_wrong_derivative_fails(backend, monkeypatch, fresh_specs):
    """Every derivative level with its sign flipped (values unchanged)."""
    if backend == "callback":
        raise_derivative = _scipy_host._raise_derivative

        def flipped(vals, first, tables, p_from, p_to):
            vals, first = raise_derivative(vals, first, tables, p_from, p_to)
            return (-vals if p_to > p_from else vals), first

        monkeypatch.setattr(_scipy_host, "_raise_derivative", flipped)
    else:
        raise_native = _jax_backend._raise

        def flipped(vals, row, p_from, p_to):
            out = raise_native(vals, row, p_from, p_to)
            return [-v for v in out] if p_to > p_from else out

        monkeypatch.setattr(_jax_backend, "_raise", flipped)
    p = calibration(backend)
    assert min(p.values()) < LEVEL, p
