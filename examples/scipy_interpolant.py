"""A scipy interpolant fitted outside the model, evaluated at points set by parameters.

A reference pulse ``g`` is measured once, densely and with a little noise, and
smoothed with ``scipy.interpolate.make_smoothing_spline`` outside the model
(plain scipy, no JAX). New recordings show the same pulse with an unknown
amplitude, time stretch and shift:

.. math::

    A \\sim \\mathrm{LogNormal}(0, 0.5), \\quad s \\sim U(0.8, 1.2), \\quad
    \\tau \\sim U(-0.1, 0.1), \\quad \\sigma \\sim \\mathrm{HalfNormal}(0.5)

    y_i \\sim N\\big(A\\, g(s\\, u_i + \\tau), \\sigma^2\\big)

``bc.from_scipy(spline)`` turns the fitted scipy object into a JAX function
that NUTS can differentiate in its argument (``g'`` comes from the same
scipy object, ``spline(x, 1)``). Any supported object works the same way:
``CubicSpline``, ``PchipInterpolator``, ``Akima1DInterpolator``, ``PPoly``,
``BSpline``. Reports the recovered amplitude, stretch and shift.
"""

import _cli
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import NUTS, init_to_median  # noqa: E402
from scipy.interpolate import make_smoothing_spline  # noqa: E402

import bspline_callback as bc  # noqa: E402


def pulse(x):
    return np.exp(-(((x - 0.45) / 0.08) ** 2)) + 0.4 * np.exp(
        -(((x - 0.65) / 0.05) ** 2)
    )


def fit_reference(rng, num_grid=400, noise=0.01):
    """The reference measurement, smoothed by scipy outside the model."""
    grid = np.linspace(0.0, 1.0, num_grid)
    return make_smoothing_spline(grid, pulse(grid) + noise * rng.normal(size=num_grid))


def simulate(rng, num_obs=60, amp=1.3, stretch=1.1, shift=-0.04, sigma=0.05):
    u = np.linspace(0.25, 0.75, num_obs)
    y = amp * pulse(stretch * u + shift) + sigma * rng.normal(size=num_obs)
    return u, y, {"amp": amp, "stretch": stretch, "shift": shift, "sigma": sigma}


def model(u, template, y=None):
    """u: times (N,); template: a from_scipy function; y: (N,)."""
    amp = numpyro.sample("amp", dist.LogNormal(0.0, 0.5))
    # Bounded priors keep s u + tau inside the reference's range [0, 1].
    stretch = numpyro.sample("stretch", dist.Uniform(0.8, 1.2))
    shift = numpyro.sample("shift", dist.Uniform(-0.1, 0.1))
    mean = amp * template(stretch * u + shift)  # x depends on parameters
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    numpyro.sample("y", dist.Normal(mean, sigma), obs=y)


def main(args):
    rng = np.random.default_rng(args.seed)
    spline = fit_reference(rng)
    template = bc.from_scipy(spline)
    u, y, truth = simulate(rng)
    # A shifted, stretched pulse can match the data's pulse in more than one
    # way: prior medians start every chain at the template itself.
    kernel = NUTS(model, init_strategy=init_to_median)
    mcmc, wall = _cli.run_mcmc(kernel, args, jnp.asarray(u), template, y=jnp.asarray(y))
    mcmc.print_summary()
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    grid = np.linspace(0.0, 1.0, 300)
    ax0.plot(grid, spline(grid), label="reference, make_smoothing_spline")
    ax0.plot(grid, pulse(grid), "k--", lw=1, label="true pulse")
    ax0.set(xlabel="x", ylabel="g(x)", title="reference fitted by scipy")
    ax0.legend(fontsize=8)
    draws = samples["amp"][:, None] * spline(
        samples["stretch"][:, None] * u + samples["shift"][:, None]
    )
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    ax1.plot(u, y, "o", ms=3, label="recording")
    ax1.plot(u, draws.mean(0), label="posterior mean")
    ax1.fill_between(u, lo, hi, alpha=0.3, label="90% band")
    ax1.set(xlabel="u", ylabel="y", title="A g(s u + tau)")
    ax1.legend(fontsize=8)
    _cli.save_figure(fig, "scipy_interpolant.png")

    rows = [(name, truth[name], samples[name]) for name in truth]
    _cli.report(rows, wall, mcmc)


if __name__ == "__main__":
    args = _cli.make_parser(__doc__).parse_args()
    _cli.setup(args)
    main(args)
