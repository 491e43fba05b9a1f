"""Terrain-aided navigation: where is the vehicle, given its altimeter?

A terrain elevation map is known on a grid and fitted once with scipy
(``RectBivariateSpline``, a cubic tensor-product spline). A vehicle drives
a known track pattern ``p_k`` (from its odometry), but its starting point
and heading are uncertain; it records the terrain height beneath it with a
noisy altimeter:

.. math::

    (o_x, o_y) \\sim N(\\text{guess}, 0.5^2 I), \\quad
    \\theta \\sim N(0, 0.15^2), \\quad \\sigma \\sim \\mathrm{HalfNormal}(10)

    q_k = R(\\theta)\\, p_k + o, \\quad h_k \\sim N(z(q_k), \\sigma^2)

with ``z = bc.from_scipy(spline)``: the fitted scipy object evaluated at 2-D
points that depend on the parameters, differentiated in both coordinates
by NUTS (one host call per gradient). The figure shows the map, the true
track, posterior draws of the track, and the altimeter profile.
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
from scipy.interpolate import RectBivariateSpline  # noqa: E402

import bspline_callback as bc  # noqa: E402

EXTENT = 10.0  # km on each side
GUESS = np.array([3.0, 4.0])  # the navigator's prior guess of the start (km)


def terrain(x, y):
    """Elevation (m): hills, a ridge and a valley, on a 10 km square."""
    hills = (
        120 * np.exp(-((x - 3) ** 2 + (y - 6) ** 2) / 2.0)
        + 80 * np.exp(-((x - 7) ** 2 + (y - 3) ** 2) / 1.5)
        + 60 * np.exp(-((x - 6) ** 2 + (y - 8) ** 2) / 0.8)
    )
    ridge = 40 * np.sin(0.9 * x + 0.4 * y) + 25 * np.cos(0.7 * y - 0.3 * x)
    return 300 + hills + ridge


def fitted_map(n=41):
    """The map on an n x n grid, fitted once with scipy."""
    g = np.linspace(0.0, EXTENT, n)
    return g, RectBivariateSpline(g, g, terrain(g[:, None], g[None, :]))


def track(num=60):
    """The known track pattern relative to the start (km): a lazy S."""
    s = np.linspace(0.0, 1.0, num)
    return np.stack([3.0 * s, 1.2 * np.sin(2 * np.pi * s) + 1.5 * s], axis=-1)


def place(pattern, offset, heading):
    c, s = jnp.cos(heading), jnp.sin(heading)
    rotation = jnp.stack([jnp.stack([c, -s]), jnp.stack([s, c])])
    return pattern @ rotation.T + offset


def simulate(rng, pattern, offset=(3.4, 3.7), heading=0.1, sigma=4.0):
    offset, heading = np.asarray(offset), float(heading)
    q = np.asarray(place(pattern, offset, heading))
    h = terrain(q[:, 0], q[:, 1]) + sigma * rng.normal(size=len(q))
    return h, offset, heading, sigma


def model(pattern, z, h=None):
    offset = numpyro.sample("offset", dist.Normal(jnp.asarray(GUESS), 0.5).to_event(1))
    heading = numpyro.sample("heading", dist.Normal(0.0, 0.15))
    q = place(pattern, offset, heading)  # (K, 2): depends on the parameters
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("h", dist.Normal(z(q), sigma).to_event(1), obs=h)


def main(args):
    rng = np.random.default_rng(args.seed)
    grid, spline = fitted_map()
    z = bc.from_scipy(spline)  # f(x, nu=(0, 0)), x of shape (..., 2)
    pattern = track()
    h, offset, heading, sigma = simulate(rng, pattern)
    # Terrain repeats itself: an offset far from the truth can fit a stretch of
    # readings (a multimodal posterior). Prior medians start every chain at
    # the prior's centre, where numpyro's default scatters them.
    kernel = NUTS(model, init_strategy=init_to_median)
    mcmc, wall = _cli.run_mcmc(kernel, args, jnp.asarray(pattern), z, h=jnp.asarray(h))
    mcmc.print_summary()
    samples = mcmc.get_samples()
    rows = [
        ("offset x", offset[0], samples["offset"][:, 0]),
        ("offset y", offset[1], samples["offset"][:, 1]),
        ("heading", heading, samples["heading"]),
        ("sigma", sigma, samples["sigma"]),
    ]
    _cli.report(rows, wall, mcmc)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=[1.2, 1])
    fine = np.linspace(0, EXTENT, 200)
    ax0.contourf(fine, fine, spline(fine, fine).T, levels=30, cmap="terrain")
    for i in np.linspace(0, len(samples["heading"]) - 1, 20).astype(int):
        q = np.asarray(place(pattern, samples["offset"][i], samples["heading"][i]))
        ax0.plot(q[:, 0], q[:, 1], color="white", alpha=0.4, lw=1, zorder=3)
    q_true = np.asarray(place(pattern, offset, heading))
    ax0.plot(q_true[:, 0], q_true[:, 1], "r-", lw=2, label="true track")
    q_guess = np.asarray(place(pattern, GUESS, 0.0))
    ax0.plot(q_guess[:, 0], q_guess[:, 1], "k--", lw=1, label="prior guess")
    ax0.set(xlabel="x (km)", ylabel="y (km)", title="map, posterior tracks (white)")
    ax0.legend(fontsize=8, loc="lower right")
    ax1.plot(h, "o", ms=3, label="altimeter")
    mean_q = np.asarray(
        place(pattern, samples["offset"].mean(0), samples["heading"].mean())
    )
    ax1.plot(
        np.asarray(z(jnp.asarray(mean_q))), label="map at the posterior mean track"
    )
    ax1.set(xlabel="reading", ylabel="height (m)")
    ax1.legend(fontsize=8)
    _cli.save_figure(fig, "terrain_navigation.png")


if __name__ == "__main__":
    args = _cli.make_parser(__doc__).parse_args()
    _cli.setup(args)
    main(args)
