"""Curve alignment: several noisy series share one shape, each on its own time shift.

Series ``j = 0 .. J-1`` are observed at common times ``u_i`` but each on its
own unknown shift of the time axis. The shared shape is a cubic B-spline with
unknown coefficients, so the points fed to the basis depend on parameters:

.. math::

    c_m \\sim N(0, 2^2) \\; (m = 0 .. 15)

    \\delta_0 = 0, \\quad \\delta_j \\sim N(0, 0.1^2)
    \\text{ truncated to } [-0.15, 0.15] \\; (j \\ge 1), \\quad
    \\sigma \\sim \\mathrm{HalfNormal}(0.5)

    y_{ij} \\sim N\\Big(\\sum_m c_m B_m(u_i + \\delta_j), \\sigma^2\\Big)

The first series is the reference (``delta_0 = 0``), which removes the
trade-off between shifting every series and shifting the shape. NUTS needs
``d/d delta`` of the basis, which ``bspline_callback`` gives through its
``custom_jvp`` ladder; under ``--chain-method vectorized`` the chains run
under ``vmap`` and each gradient is one batched host call. The figure shows
the data, the posterior mean curves with 90% bands and the shift posteriors
against the true shifts.
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

import bspline_callback as bc  # noqa: E402

T_MIN, T_MAX, N_INTERIOR, DEGREE = 0.0, 1.0, 12, 3


def make_basis():
    interior = np.linspace(T_MIN, T_MAX, N_INTERIOR + 2)[1:-1]
    knots = np.r_[[T_MIN] * (DEGREE + 1), interior, [T_MAX] * (DEGREE + 1)]
    return bc.BSplineBasis(knots, DEGREE)


def true_shape(x):
    return np.sin(2 * np.pi * x) + 0.5 * np.cos(5 * np.pi * x)


def simulate(rng, num_series=4, num_points=40, sigma=0.1):
    u = np.linspace(0.15, 0.85, num_points)
    shifts = np.r_[0.0, rng.uniform(-0.08, 0.08, num_series - 1)]
    y = true_shape(u[None, :] + shifts[:, None]) + sigma * rng.normal(
        size=(num_series, num_points)
    )
    return u, y, shifts, sigma


def model(u, basis, num_series, margin, y=None):
    """u: times (N,); basis: a BSplineBasis; margin: max |shift|; y: (J, N)."""
    coef = numpyro.sample("coef", dist.Normal(0.0, 2.0).expand([basis.n_basis]))
    # The prior's support is the data margin: every shift keeps u + delta in
    # the basis' interval [0, 1], so no proposal lands on a NaN row.
    delta = numpyro.sample(
        "delta",
        dist.TruncatedNormal(0.0, 0.1, low=-margin, high=margin).expand(
            [num_series - 1]
        ),
    )
    shifts = jnp.r_[0.0, delta]
    # x depends on the parameters: the basis is differentiated in x by NUTS.
    x = u[None, :] + shifts[:, None]
    mean = numpyro.deterministic("mean", basis.basis(x) @ coef)  # (J, N)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    numpyro.sample("y", dist.Normal(mean, sigma), obs=y)


def plot(u, y, shifts, samples):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=[2, 1])
    mean = np.asarray(samples["mean"])
    colors = plt.cm.viridis(np.linspace(0, 0.9, y.shape[0]))
    for j, color in enumerate(colors):
        lo, hi = np.quantile(mean[:, j], [0.05, 0.95], axis=0)
        ax0.plot(u, y[j], "o", ms=3, color=color, alpha=0.6)
        ax0.plot(u, mean[:, j].mean(0), color=color, label=f"series {j}")
        ax0.fill_between(u, lo, hi, color=color, alpha=0.25)
    ax0.set(xlabel="observation time u", ylabel="y", title="data and posterior mean")
    ax0.legend(fontsize=8)
    delta = np.asarray(samples["delta"])
    ax1.violinplot(delta, positions=np.arange(1, y.shape[0]), showmeans=True)
    ax1.plot(np.arange(1, y.shape[0]), shifts[1:], "rx", ms=10, label="true")
    ax1.set(xlabel="series", ylabel="shift", title="shift posteriors")
    ax1.set_xticks(np.arange(1, y.shape[0]))
    ax1.legend()
    _cli.save_figure(fig, "curve_alignment.png")


def main(args):
    rng = np.random.default_rng(args.seed)
    u, y, shifts, sigma = simulate(rng)
    basis = make_basis()
    margin = min(u.min() - T_MIN, T_MAX - u.max())
    # Shifts make the posterior multimodal (a series moved by a wiggle of the
    # curve fits too): prior medians, zero shifts, start every chain in the
    # main mode, where numpyro's default starts each somewhere random.
    kernel = NUTS(model, init_strategy=init_to_median)
    mcmc, wall = _cli.run_mcmc(
        kernel, args, jnp.asarray(u), basis, y.shape[0], margin, y=jnp.asarray(y)
    )
    mcmc.print_summary(exclude_deterministic=True)
    samples = mcmc.get_samples()
    plot(u, y, shifts, samples)
    rows = [
        (f"shift[{j}]", shifts[j], samples["delta"][:, j - 1])
        for j in range(1, y.shape[0])
    ]
    rows.append(("sigma", sigma, samples["sigma"]))
    _cli.report(rows, wall, mcmc)


if __name__ == "__main__":
    args = _cli.make_parser(__doc__).parse_args()
    _cli.setup(args)
    main(args)
