"""Motorcycle crash data: P-splines for the mean and for the log noise scale.

The mcycle data (R's MASS; Silverman 1985): head acceleration against time
after a simulated motorcycle impact, 133 rows (``examples/data``). The
noise varies by orders of magnitude over time, so the mean and the log
noise scale are both smooths on the same cubic basis ``B`` (20 functions),
each with a second-order difference penalty ``S`` in the non-centred form
(``penalty_reparam``: ``U_null`` spans the penalty's null space, ``U_pen``
its range scaled to unit penalty):

.. math::

    \\mu = B U_{null} \\alpha + \\tau_\\mu B U_{pen} b, \\quad
    \\log \\sigma = B U_{null} \\gamma + \\tau_\\sigma B U_{pen} e

    b, e \\sim N(0, I), \\quad \\alpha, \\gamma \\sim N(0, 10^2), \\quad
    \\tau_\\mu, \\tau_\\sigma \\sim \\mathrm{HalfNormal}(2), \\quad
    y_i \\sim N(\\mu_i, (\\sigma_0 + \\sigma_i)^2)

on the standardised acceleration, with ``sigma_0`` the sd of the readings'
rounding (they come in steps of about 1.3 g). ``--centred`` samples the coefficients
themselves under the penalty's log density instead (``numpyro.factor``),
the funnel that the non-centred form removes. The posterior mean is
compared with scipy's ``make_smoothing_spline`` (smoothing chosen by GCV);
the figure shows the data, the posterior mean and 90% band, the GCV fit,
and the noise scale.
"""

import os

import _cli
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.infer import NUTS  # noqa: E402
from scipy.interpolate import make_smoothing_spline  # noqa: E402

import bspline_callback as bc  # noqa: E402

N_BASIS = 20
# The readings are quantised in steps of about 1.3 g: rounding alone has an
# sd of 1.3 / sqrt(12), a floor under the noise scale (without it, the flat
# start of the record pulls the noise towards zero, a geometry NUTS
# diverges in).
FLOOR = 1.3 / np.sqrt(12)
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mcycle.csv")


def load():
    """Times (ms) and accelerations (g), in time order."""
    data = np.genfromtxt(DATA, delimiter=",", skip_header=1)
    return data[:, 1], data[:, 2]


def smooth_parts(times):
    """Knots, the basis at the data, and the penalty's null space and scaled
    range (concrete: built once, outside the model)."""
    knots = bc.uniform_knots(times.min(), times.max(), N_BASIS)
    B = np.asarray(bc.design_matrix(times, knots, 3), np.float64)
    S = bc.difference_penalty(N_BASIS, 2)
    U_null, U_pen = bc.penalty_reparam(S)
    return knots, B, S, U_null, U_pen


def smooth(name, B, S, U_null, U_pen, centred, null_scale=10.0):
    """One P-spline smooth's coefficients ``beta`` (``B @ beta`` at the data)."""
    tau = numpyro.sample(f"tau_{name}", dist.HalfNormal(2.0))
    if not centred:
        alpha = numpyro.sample(
            f"alpha_{name}",
            dist.Normal(0.0, null_scale).expand([U_null.shape[1]]).to_event(1),
        )
        r = U_pen.shape[1]
        b = numpyro.sample(f"b_{name}", dist.Normal(0.0, 1.0).expand([r]).to_event(1))
        return U_null @ alpha + tau * (U_pen @ b)
    # The coefficients themselves, under the same prior written as a
    # density: normal on the penalty's null space, the penalty on its range.
    base = dist.Normal(0.0, 10.0).expand([B.shape[1]]).to_event(1)
    beta = numpyro.sample(f"coef_{name}", base)
    rank = U_pen.shape[1]
    log_prior = (
        -0.5 * beta @ S @ beta / tau**2
        - rank * jnp.log(tau)
        + dist.Normal(0.0, null_scale).log_prob(U_null.T @ beta).sum()
    )
    numpyro.factor(f"prior_{name}", log_prior - base.log_prob(beta))
    return beta


def model(B, S, U_null, U_pen, centred=False, floor=0.0, y=None):
    beta_mu = numpyro.deterministic(
        "beta_mu", smooth("mu", B, S, U_null, U_pen, centred)
    )
    beta_sigma = numpyro.deterministic(
        "beta_sigma", smooth("sigma", B, S, U_null, U_pen, centred)
    )
    sigma = floor + jnp.exp(B @ beta_sigma)
    numpyro.sample("y", dist.Normal(B @ beta_mu, sigma), obs=y)


def main(args):
    times, accel = load()
    scale = accel.std()
    knots, B, S, U_null, U_pen = smooth_parts(times)
    parts = (jnp.asarray(B), jnp.asarray(S), jnp.asarray(U_null), jnp.asarray(U_pen))
    # numpyro's default initialisation; smaller steps for the noise scale's
    # smooth, which varies fast where the data are sparse.
    kernel = NUTS(model, target_accept_prob=0.95)
    mcmc, wall = _cli.run_mcmc(
        kernel,
        args,
        *parts,
        args.centred,
        FLOOR / scale,
        y=jnp.asarray(accel / scale),
    )
    mcmc.print_summary(exclude_deterministic=True)
    samples = mcmc.get_samples()
    grid = np.linspace(times.min(), times.max(), 200)
    B_grid = np.asarray(bc.design_matrix(grid, knots, 3), np.float64)
    mean = scale * np.asarray(samples["beta_mu"], np.float64) @ B_grid.T
    log_sd = np.log(
        FLOOR / scale + np.exp(np.asarray(samples["beta_sigma"], np.float64) @ B_grid.T)
    )
    lo, hi = np.quantile(mean, [0.05, 0.95], axis=0)
    # scipy's GCV smoothing spline through the same data (tied times
    # averaged: it needs increasing abscissae).
    u, inverse = np.unique(times, return_inverse=True)
    gcv = make_smoothing_spline(u, np.bincount(inverse, accel) / np.bincount(inverse))(
        grid
    )
    inside = float(np.mean((gcv >= lo) & (gcv <= hi)))
    print(f"\nGCV smoothing spline inside the posterior's 90% band: {inside:.2f}")
    _cli.report_sampling(mcmc, wall, ["tau_mu", "tau_sigma"], ("beta_mu", "beta_sigma"))
    finite = np.isfinite(mean).all() and np.isfinite(log_sd).all()
    print(f"NaN-free: {bool(finite)}")
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    ax0.plot(times, accel, "o", ms=3, alpha=0.6, label="data")
    ax0.plot(grid, mean.mean(0), label="posterior mean")
    ax0.fill_between(grid, lo, hi, alpha=0.3, label="90% band")
    ax0.plot(grid, gcv, "k--", lw=1, label="make_smoothing_spline (GCV)")
    ax0.set(ylabel="acceleration (g)")
    ax0.legend(fontsize=8)
    sd = scale * np.exp(log_sd)
    ax1.plot(grid, np.median(sd, 0))
    ax1.fill_between(grid, *np.quantile(sd, [0.05, 0.95], axis=0), alpha=0.3)
    ax1.set(xlabel="time after impact (ms)", ylabel="noise sd (g)", yscale="log")
    _cli.save_figure(fig, "motorcycle.png")


if __name__ == "__main__":
    parser = _cli.make_parser(__doc__, num_warmup=1000, num_samples=1500)
    parser.add_argument(
        "--centred", action="store_true", help="sample the coefficients themselves"
    )
    args = parser.parse_args()
    _cli.setup(args)
    main(args)
