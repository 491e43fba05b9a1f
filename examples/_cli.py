"""Command line and reporting helpers shared by the NUTS examples.

Each example stays a plain script (``python examples/NAME.py --help``); this
module only keeps their flags and their final "true vs recovered" table the
same.
"""

import argparse
import time

import numpy as np


def make_parser(doc, *, num_warmup=500, num_samples=500, num_chains=2, seed=0):
    """numpyro's example flags, kebab-case, with this example's defaults."""
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--num-warmup", type=int, default=num_warmup)
    parser.add_argument("--num-samples", type=int, default=num_samples)
    parser.add_argument("--num-chains", type=int, default=num_chains)
    parser.add_argument(
        "--chain-method",
        default="vectorized",
        choices=["sequential", "parallel", "vectorized"],
        help="vectorized runs the chains under vmap: one batched host call",
    )
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--x64", action="store_true", help="use 64-bit floats")
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda", "rocm", "tpu"],
        help="JAX platform for the model (the CPU stays on for host callbacks)",
    )
    return parser


def setup(args):
    """Apply the flags that must be set before JAX starts computing."""
    import numpyro

    # The callback backend's host calls need a CPU device wherever the model
    # runs: set_platform("cuda") alone would leave JAX without one.
    numpyro.set_platform("cpu" if args.device == "cpu" else f"{args.device},cpu")
    if args.x64:
        # Only when asked: numpyro.enable_x64(False) reads JAX_ENABLE_X64 as
        # a truthy string, so JAX_ENABLE_X64=0 would turn 64-bit floats on.
        # Without the flag JAX's own reading of the variable stands.
        numpyro.enable_x64()
    if args.chain_method == "parallel":
        numpyro.set_host_device_count(args.num_chains)


def run_mcmc(kernel, args, *model_args, **model_kwargs):
    """Run ``kernel`` (the example's own ``NUTS``, with its initialisation)
    with the example's flags; return the MCMC and the wall time."""
    import jax
    from numpyro.infer import MCMC

    mcmc = MCMC(
        kernel,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=False,
    )
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(args.seed), *model_args, **model_kwargs)
    jax.block_until_ready(mcmc.get_samples())
    return mcmc, time.perf_counter() - start


def report(rows, wall_time, mcmc=None):
    """Print, per parameter with a known truth, the posterior mean, sd,
    90% interval and the z-score ``(mean - truth) / sd``; then the largest
    ``|z|``, whether every draw is finite and the divergent transitions.

    ``rows`` is a list of ``(name, true_value, draws)``. Under a calibrated
    posterior each z is roughly standard normal, so ``|z| > 4`` says the
    truth was not recovered (tests/test_examples.py reads these lines).
    Returns the largest ``|z|``.
    """
    print(
        f"\n{'parameter':>16} {'true':>9} {'mean':>9} {'sd':>8} {'z':>6}"
        f" {'5%':>9} {'95%':>9}"
    )
    max_z, finite = 0.0, True
    for name, true, draws in rows:
        draws = np.asarray(draws, dtype=np.float64)
        finite &= bool(np.isfinite(draws).all())
        mean, sd = draws.mean(), draws.std()
        z = (mean - true) / sd if sd > 0 else np.inf
        max_z = max(max_z, abs(z)) if np.isfinite(z) else np.inf
        lo, hi = np.quantile(draws, [0.05, 0.95])
        print(
            f"{name:>16} {true:9.4f} {mean:9.4f} {sd:8.4f} {z:6.2f} {lo:9.4f} {hi:9.4f}"
        )
    print(f"\nlargest |z|: {max_z:.2f}")
    print(f"NaN-free: {finite}")
    if mcmc is not None:
        _print_divergences(mcmc)
    _print_run(wall_time)
    return max_z


def report_sampling(mcmc, wall_time, sites, deterministic=()):
    """Print the divergent transitions, the largest r_hat and the smallest
    bulk ESS over the sampled sites (all but ``deterministic``), and the ESS
    per second of ``sites``."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    samples = mcmc.get_samples(group_by_chain=True)
    sampled = {k: np.asarray(v) for k, v in samples.items() if k not in deterministic}
    rhat = max(float(np.nanmax(split_gelman_rubin(v))) for v in sampled.values())
    ess = {k: float(np.min(effective_sample_size(v))) for k, v in sampled.items()}
    _print_divergences(mcmc)
    print(f"largest r_hat: {rhat:.3f}; smallest ESS: {min(ess.values()):.0f}")
    for site in sites:
        print(
            f"ESS of {site}: {ess[site]:.0f} ({ess[site] / wall_time:.1f} per second)"
        )
    _print_run(wall_time)


def _print_divergences(mcmc):
    diverging = np.asarray(mcmc.get_extra_fields()["diverging"])
    print(
        f"divergent transitions: {int(diverging.sum())} of {diverging.size}"
        f" ({100 * diverging.mean():.1f}%)"
    )


def _print_run(wall_time):
    """The lines every example ends with (tests/test_examples.py reads them)."""
    import jax

    print(f"64-bit floats: {jax.config.jax_enable_x64}")
    print(f"sampling wall time: {wall_time:.1f} s")


def save_figure(fig, name):
    """Save ``fig`` as ``name`` in the working directory (never plt.show())."""
    import os

    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(os.path.join(os.getcwd(), name), dpi=110)
    plt.close(fig)
    print(f"figure: {name}")
