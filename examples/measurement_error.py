"""A regression on a covariate measured with error: the basis at latent points.

A response depends smoothly on a covariate ``x`` that is only observed with
known measurement noise ``tau``. The true covariate values are parameters,
so the basis is evaluated at points NUTS moves:

.. math::

    x_i \\sim N(\\mu_x, s_x^2), \\quad
    x^{\\mathrm{obs}}_i \\sim N(x_i, \\tau^2), \\quad
    c_m \\sim N(0, 2^2), \\quad \\sigma \\sim \\mathrm{HalfNormal}(1)

    y_i \\sim N\\Big(\\sum_m c_m B_m(x_i), \\sigma^2\\Big)

The data are float32 JAX arrays, as numpyro users pass them; the knots come
from ``bc.quantile_knots`` on the observed covariate, so the latent values
near the ends lie past the knots in some draws. ``extrapolate="linear"``
continues each basis function as its tangent there: the basis stays finite
and differentiable, and NUTS starts from its default initialisation with no
special care. The figure shows the data, the posterior mean curve with its
90% band against the true curve, and the latent covariates against their
true values.
"""

import _cli
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import NUTS, init_to_median, init_to_value  # noqa: E402

import bspline_callback as bc  # noqa: E402

N_BASIS = 8
TAU = 0.15  # known measurement noise of the covariate


def true_curve(x):
    return np.sin(1.5 * x) + 0.3 * x


def simulate(rng, num_obs=150, mu_x=2.0, s_x=1.0, sigma=0.15):
    x = rng.normal(mu_x, s_x, num_obs)
    x_obs = x + TAU * rng.normal(size=num_obs)
    y = true_curve(x) + sigma * rng.normal(size=num_obs)
    return x, x_obs, y, (mu_x, s_x, sigma)


def model(x_obs, knots, backend, y=None, extrapolate="linear"):
    """x_obs: observed covariate (N,); y: responses (N,)."""
    mu_x = numpyro.sample("mu_x", dist.Normal(0.0, 5.0))
    s_x = numpyro.sample("s_x", dist.HalfNormal(5.0))
    with numpyro.plate("obs", x_obs.shape[0]):
        x = numpyro.sample("x", dist.Normal(mu_x, s_x))
        numpyro.sample("x_obs", dist.Normal(x, TAU), obs=x_obs)
    c = numpyro.sample("c", dist.Normal(0.0, 2.0).expand([N_BASIS]).to_event(1))
    # Latent points past the knots: each basis function continues linearly.
    mean = bc.bspline(x, knots, c, 3, extrapolate=extrapolate, backend=backend)
    numpyro.deterministic("mean", mean)
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("obs", x_obs.shape[0]):
        # Unchecked: with extrapolate=False a NaN mean is a rejected proposal.
        numpyro.sample("y", dist.Normal(mean, sigma, validate_args=False), obs=y)


def curve(samples, knots, grid):
    """Posterior draws of the curve on ``grid``: (draws, len(grid))."""
    basis = np.asarray(bc.design_matrix(grid, knots, 3, extrapolate="linear"))
    return np.asarray(samples["c"], np.float64) @ basis.T


def main(args):
    rng = np.random.default_rng(args.seed)
    x, x_obs, y, (mu_x, s_x, sigma) = simulate(rng)
    knots = bc.quantile_knots(x_obs, N_BASIS)
    data = (jnp.asarray(x_obs), knots, args.backend)  # float32 unless --x64
    extrapolate = {"linear": "linear", "none": False}[args.extrapolate]
    init = {
        "default": None,
        "median": init_to_median,
        "observed": init_to_value(values={"x": data[0], "mu_x": x_obs.mean()}),
    }[args.init]
    # numpyro's default initialisation: with extrapolate="linear" latent
    # points anywhere give a finite model. The other starts show what happens
    # without extrapolation (--check-points finds the points outside).
    kernel = NUTS(model) if init is None else NUTS(model, init_strategy=init)
    kwargs = {"y": jnp.asarray(y), "extrapolate": extrapolate}
    if args.check_points:
        print(
            "At the initial point:",
            *bc.points_outside(
                model, *data, init_strategy=init, rng_seed=args.seed, **kwargs
            )
            or ["every point inside"],
            sep="\n  ",
        )
        with bc.record_outside() as found:
            mcmc, wall = _cli.run_mcmc(kernel, args, *data, **kwargs)
        print(f"While sampling: {len(found)} evaluations with points outside")
        print(*found[:3], sep="\n  ")
    else:
        mcmc, wall = _cli.run_mcmc(kernel, args, *data, **kwargs)
    mcmc.print_summary(exclude_deterministic=True)
    samples = mcmc.get_samples()

    grid = np.linspace(np.quantile(x_obs, 0.05), np.quantile(x_obs, 0.95), 5)
    draws = curve(samples, knots, grid)
    rows = [(f"f({g:.2f})", true_curve(g), draws[:, i]) for i, g in enumerate(grid)]
    rows += [
        ("mu_x", mu_x, samples["mu_x"]),
        ("s_x", s_x, samples["s_x"]),
        ("sigma", sigma, samples["sigma"]),
    ]
    for i in range(3):
        rows.append((f"x[{i}]", x[i], samples["x"][:, i]))
    _cli.report(rows, wall, mcmc)

    fine = np.linspace(x_obs.min(), x_obs.max(), 200)
    band = curve(samples, knots, fine)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    ax0.plot(x_obs, y, "o", ms=3, alpha=0.5, label="data (observed x)")
    ax0.plot(fine, true_curve(fine), "k--", label="true curve")
    ax0.plot(fine, band.mean(0), label="posterior mean")
    lo, hi = np.quantile(band, [0.05, 0.95], axis=0)
    ax0.fill_between(fine, lo, hi, alpha=0.3, label="90% band")
    ax0.set(xlabel="x", ylabel="y")
    ax0.legend(fontsize=8)
    x_mean = np.asarray(samples["x"], np.float64).mean(0)
    ax1.plot(x, x_obs, ".", ms=4, alpha=0.5, label="observed")
    ax1.plot(x, x_mean, ".", ms=4, label="posterior mean")
    ax1.plot([x.min(), x.max()], [x.min(), x.max()], "k-", lw=0.5)
    ax1.set(xlabel="true x", ylabel="estimate of x")
    ax1.legend(fontsize=8)
    _cli.save_figure(fig, "measurement_error.png")


if __name__ == "__main__":
    parser = _cli.make_parser(__doc__, num_chains=2)
    parser.add_argument("--backend", default="callback", choices=["callback", "jax"])
    parser.add_argument("--extrapolate", default="linear", choices=["linear", "none"])
    parser.add_argument(
        "--init", default="default", choices=["default", "median", "observed"]
    )
    parser.add_argument(
        "--check-points",
        action="store_true",
        help="report the spline calls with points outside the knots",
    )
    args = parser.parse_args()
    _cli.setup(args)
    main(args)
