"""An additive model of New York ozone, one covariate measured with error.

R's airquality data (``examples/data``; the 111 days with ozone and solar
radiation): log ozone as an intercept plus three smooths, of temperature,
wind speed and solar radiation. Each smooth is a P-spline (8 cubic
functions on quantile knots, a second-order difference penalty) made
identifiable beside the intercept by a sum-to-zero constraint over the data
(``sum_to_zero``: ``Z``) and put in the non-centred form
(``penalty_reparam`` of ``Z.T S Z``):

.. math::

    f_j(x) = B_j(x) Z_j (U_{null,j} \\alpha_j + \\tau_j U_{pen,j} b_j),
    \\quad b_j \\sim N(0, I), \\; \\alpha_j \\sim N(0, 2^2), \\;
    \\tau_j \\sim \\mathrm{HalfNormal}(1)

    w_i \\sim N(\\mu_w, s_w^2), \\quad w^{obs}_i \\sim N(w_i, 1), \\quad
    \\log y_i \\sim N(c + f_T(T_i) + f_W(w_i) + f_R(R_i), \\sigma^2)

Wind speed is taken as measured with an error of 1 mph, so its smooth is
evaluated at latent values (``extrapolate="linear"`` past the knots):
the basis sits at points NUTS moves. ``--simulate`` replaces the response
by a known additive truth at the same covariates and reports how much of
each true partial effect lies inside its 90% band. The figure shows the
three partial effects with their bands.
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

import bspline_callback as bc  # noqa: E402

N_BASIS = 8
WIND_ERROR = 1.0  # mph
DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "data", "airquality.csv"
)
NAMES = ("temperature", "wind", "solar")
LABELS = ("temperature (F)", "wind speed (mph)", "solar radiation (lang)")


def load():
    """Covariates (temperature, wind, solar radiation) and log ozone, for
    the days where both ozone and radiation were recorded."""
    data = np.genfromtxt(DATA, delimiter=",", skip_header=1, missing_values="NA")
    ozone, solar, wind, temp = data[:, 1], data[:, 2], data[:, 3], data[:, 4]
    keep = np.isfinite(ozone) & np.isfinite(solar)
    return (temp[keep], wind[keep], solar[keep]), np.log(ozone[keep])


#: The known additive truth of ``--simulate``: temperature, wind, solar.
TRUTHS = (
    lambda x: 0.06 * (x - 75) + 0.4 * np.tanh((x - 80) / 5),
    lambda x: -1.2 * np.log(x / 9.0),
    lambda x: 0.6 * np.sin(x / 110.0),
)


def true_effects(covariates):
    """The truths centred on the data, as the sum-to-zero constraint
    centres the smooths."""
    return [_centred(f, f(c).mean()) for f, c in zip(TRUTHS, covariates, strict=True)]


def _centred(f, mean):
    return lambda x: f(x) - mean


class Smooth:
    """One covariate's P-spline: knots on the observed values, the
    constraint and the non-centred factors (concrete, built once)."""

    def __init__(self, x_obs, extrapolate=False):
        self.knots = bc.quantile_knots(x_obs, N_BASIS)
        self.extrapolate = extrapolate
        B = np.asarray(bc.design_matrix(x_obs, self.knots, 3), np.float64)
        Z = bc.sum_to_zero(B)
        U_null, U_pen = bc.penalty_reparam(Z.T @ bc.difference_penalty(N_BASIS, 2) @ Z)
        self.W_null, self.W_pen = Z @ U_null, Z @ U_pen

    def coefficients(self, name):
        """The smooth's basis coefficients, sampled in the non-centred form."""
        alpha = numpyro.sample(
            f"alpha_{name}",
            dist.Normal(0.0, 2.0).expand([self.W_null.shape[1]]).to_event(1),
        )
        tau = numpyro.sample(f"tau_{name}", dist.HalfNormal(1.0))
        r = self.W_pen.shape[1]
        b = numpyro.sample(f"b_{name}", dist.Normal(0.0, 1.0).expand([r]).to_event(1))
        return jnp.asarray(self.W_null) @ alpha + tau * (jnp.asarray(self.W_pen) @ b)

    def __call__(self, x, coef):
        return bc.bspline(x, self.knots, coef, 3, extrapolate=self.extrapolate)


def model(covariates, smooths, y=None):
    temp, wind_obs, solar = covariates
    mu_w = numpyro.sample("mu_wind", dist.Normal(10.0, 5.0))
    s_w = numpyro.sample("s_wind", dist.HalfNormal(5.0))
    with numpyro.plate("days", wind_obs.shape[0]):
        wind = numpyro.sample("wind", dist.Normal(mu_w, s_w))
        numpyro.sample("wind_obs", dist.Normal(wind, WIND_ERROR), obs=wind_obs)
    points = (temp, wind, solar)
    mean = numpyro.sample("intercept", dist.Normal(3.0, 2.0))
    for name, smooth, x in zip(NAMES, smooths, points, strict=True):
        coef = numpyro.deterministic(f"coef_{name}", smooth.coefficients(name))
        mean = mean + smooth(x, coef)
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("days", wind_obs.shape[0]):
        numpyro.sample("log_ozone", dist.Normal(mean, sigma), obs=y)


def main(args):
    covariates, log_ozone = load()
    smooths = [
        Smooth(covariates[0]),
        Smooth(covariates[1], "linear"),
        Smooth(covariates[2]),
    ]
    truths = None
    if args.simulate:
        rng = np.random.default_rng(args.seed)
        truths = true_effects(covariates)
        signal = sum(f(x) for f, x in zip(truths, covariates, strict=True))
        log_ozone = 3.4 + signal + 0.3 * rng.normal(size=log_ozone.size)
    data = tuple(jnp.asarray(x) for x in covariates)  # float32 unless --x64
    # numpyro's default initialisation: the non-centred smooths need no care.
    kernel = NUTS(model)
    mcmc, wall = _cli.run_mcmc(kernel, args, data, smooths, y=jnp.asarray(log_ozone))
    mcmc.print_summary(exclude_deterministic=True)
    samples = mcmc.get_samples()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for i, (name, smooth, x, ax) in enumerate(
        zip(NAMES, smooths, covariates, axes, strict=True)
    ):
        grid = np.linspace(np.quantile(x, 0.02), np.quantile(x, 0.98), 60)
        B = np.asarray(
            bc.design_matrix(grid, smooth.knots, 3, extrapolate=smooth.extrapolate)
        )
        draws = np.asarray(samples[f"coef_{name}"], np.float64) @ B.T
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        ax.plot(grid, draws.mean(0), label="posterior mean")
        ax.fill_between(grid, lo, hi, alpha=0.3, label="90% band")
        ax.plot(x, np.full_like(x, lo.min() - 0.1), "|", color="gray", alpha=0.5)
        if truths is not None:
            true = truths[i](grid)
            ax.plot(grid, true, "k--", label="truth")
            inside = np.mean((true >= lo) & (true <= hi))
            print(f"true {name} effect inside its 90% band: {inside:.2f}")
        ax.set(xlabel=LABELS[i], ylabel="effect on log ozone" if i == 0 else None)
    axes[0].legend(fontsize=8)
    _cli.report_sampling(
        mcmc, wall, [f"tau_{n}" for n in NAMES], [f"coef_{n}" for n in NAMES]
    )
    finite = all(np.isfinite(np.asarray(v)).all() for v in samples.values())
    print(f"NaN-free: {finite}")
    _cli.save_figure(fig, "additive_model.png")


if __name__ == "__main__":
    parser = _cli.make_parser(__doc__)
    parser.add_argument(
        "--simulate", action="store_true", help="a known additive truth as the response"
    )
    args = parser.parse_args()
    _cli.setup(args)
    main(args)
