"""Does the non-centred form of a P-spline prior sample better?

The motorcycle model (``examples/motorcycle.py``: P-splines for the mean
and the log noise scale, 20 functions each) sampled in the non-centred
form (``penalty_reparam``: unit normals scaled by the smoothing scale) and
in the centred form (the coefficients themselves under the penalty's log
density, ``numpyro.factor``), with the same NUTS settings and seed. ESS per
second of sampling (compile time included in neither: each form is run
once to warm up, then timed).

Run: ``python benchmarks/smoothing.py [--quick]``.
"""

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import machine_line
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, init_to_median

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import motorcycle as mc  # noqa: E402


def run(centred, num_warmup, num_samples, seed=0):
    times, accel = mc.load()
    scale = accel.std()
    _, B, S, U_null, U_pen = mc.smooth_parts(times)
    args = tuple(jnp.asarray(a) for a in (B, S, U_null, U_pen))
    mcmc = MCMC(
        NUTS(mc.model, target_accept_prob=0.95, init_strategy=init_to_median),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    kwargs = {"y": jnp.asarray(accel / scale), "extra_fields": ("diverging",)}
    mcmc.run(jax.random.PRNGKey(seed), *args, centred, mc.FLOOR / scale, **kwargs)
    start = time.perf_counter()  # the second run: compiled already
    mcmc.run(jax.random.PRNGKey(seed + 1), *args, centred, mc.FLOOR / scale, **kwargs)
    jax.block_until_ready(mcmc.get_samples())
    seconds = time.perf_counter() - start
    samples = mcmc.get_samples(group_by_chain=True)
    ess = {
        k: float(np.min(effective_sample_size(np.asarray(v))))
        for k, v in samples.items()
        if not k.startswith("beta_")
    }
    diverging = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return seconds, ess, diverging


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 + 300 draws")
    args = parser.parse_args()
    n = 300 if args.quick else 1000
    print(f"{machine_line()}; {n} warm-up + {n} draws, 2 chains\n")
    print("| form | seconds | divergent | ESS/s tau_mu | ESS/s tau_sigma | min ESS/s |")
    print("|---|---:|---:|---:|---:|---:|")
    rates = {}
    for centred in (False, True):
        seconds, ess, div = run(centred, n, n)
        r = {k: v / seconds for k, v in ess.items()}
        rates[centred] = r
        label = "centred" if centred else "non-centred"
        print(
            f"| {label} | {seconds:.1f} | {div} | {r['tau_mu']:.1f} "
            f"| {r['tau_sigma']:.1f} | {min(r.values()):.1f} |",
            flush=True,
        )
    print(
        "\nnon-centred / centred, ESS/s of tau_mu and tau_sigma: "
        f"{rates[False]['tau_mu'] / rates[True]['tau_mu']:.1f}, "
        f"{rates[False]['tau_sigma'] / rates[True]['tau_sigma']:.1f}"
    )


if __name__ == "__main__":
    main()
