"""The question's ``b_spline_basis(knots, order, deriv, x)`` inside a numpyro model.

An instrument's response is a known cubic B-spline of the quantity it
measures, on the question's knots ``[0, 0, 0, 0, 0.25, 1, 1, 1, 1]`` (the
question's basis drops the first column). The quantity is not observed
directly: readings ``z_i`` map to it through an unknown linear calibration,

.. math::

    a \\sim U(-0.1, 0.1), \\quad b \\sim U(0.8, 1.2), \\quad
    \\sigma \\sim \\mathrm{HalfNormal}(0.1)

    x_i = a + b z_i, \\quad
    y_i \\sim N\\big(\\textstyle\\sum_j w_j B_j(x_i), \\sigma^2\\big)

with the question's exact call ``b_spline_basis(knots, 3, 0, x)`` for
``B``. NUTS recovers ``a`` and ``b``; ``Predictive`` then draws posterior
predictive responses on a grid (``Predictive`` vmaps the model over the
draws, so the callback is batched there too).
"""

import _cli
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import NUTS, Predictive, init_to_median  # noqa: E402

from bspline_callback import b_spline_basis  # noqa: E402

KNOTS = np.array([0, 0, 0, 0, 0.25, 1, 1, 1, 1], dtype=float)
WEIGHTS = np.array([1.0, -0.5, 2.0, 0.7])  # the known response, 4 columns


def simulate(rng, num_obs=40, a=0.05, b=0.9, sigma=0.02):
    z = np.linspace(0.15, 0.75, num_obs)
    x = a + b * z
    basis = np.asarray(b_spline_basis(KNOTS, 3, 0, x), dtype=np.float64)
    y = basis @ WEIGHTS + sigma * rng.normal(size=num_obs)
    return z, y, a, b, sigma


def model(z, y=None):
    """z: readings (N,); y: instrument responses (N,)."""
    # Bounded priors keep x = a + b z inside [0, 1] for z in [0.15, 0.75]:
    # the question's basis (extrapolate=False) is NaN outside.
    a = numpyro.sample("a", dist.Uniform(-0.1, 0.1))
    b = numpyro.sample("b", dist.Uniform(0.8, 1.2))
    x = a + b * z
    # The question's function and call, unchanged.
    mean = b_spline_basis(KNOTS, 3, 0, x) @ jnp.asarray(WEIGHTS)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
    numpyro.sample("y", dist.Normal(mean, sigma), obs=y)


def main(args):
    rng = np.random.default_rng(args.seed)
    z, y, a, b, sigma = simulate(rng)
    # The points a + b z must start inside the knots (outside, the basis is
    # NaN): prior medians put them there; numpyro's default draws a and b at
    # random and retries until they land inside.
    kernel = NUTS(model, init_strategy=init_to_median)
    mcmc, wall = _cli.run_mcmc(kernel, args, jnp.asarray(z), y=jnp.asarray(y))
    mcmc.print_summary()
    samples = mcmc.get_samples()

    grid = jnp.linspace(0.15, 0.75, 100)
    predictive = Predictive(model, samples)
    draws = np.asarray(predictive(jax.random.PRNGKey(args.seed + 1), grid)["y"])
    lo, hi = np.nanquantile(draws, [0.05, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(z, y, "o", ms=3, label="data")
    ax.plot(grid, np.nanmean(draws, 0), label="posterior predictive mean")
    ax.fill_between(grid, lo, hi, alpha=0.3, label="90% predictive band")
    ax.set(xlabel="reading z", ylabel="response y")
    ax.legend(fontsize=8)
    _cli.save_figure(fig, "question_model.png")

    rows = [
        ("a", a, samples["a"]),
        ("b", b, samples["b"]),
        ("sigma", sigma, samples["sigma"]),
    ]
    _cli.report(rows, wall, mcmc)
    nan_free = not np.isnan(draws).any()
    print(f"posterior predictive draws: {draws.shape}, NaN-free: {nan_free}")


if __name__ == "__main__":
    args = _cli.make_parser(__doc__).parse_args()
    _cli.setup(args)
    main(args)
