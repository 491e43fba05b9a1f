"""Which backend, and how does it compare with interpax? Cubic, n = 1e4.

Medians of interleaved repeats, ratios from the same run:

- value_and_grad of ``sum(design_matrix(x) @ w)`` in x, jitted, for the jax
  and callback backends, the same spline through ``bspline(x, t, w, k,
  backend="jax")`` (the band: k + 1 values and a gather of w per point, no
  dense basis), and interpax's closest equivalent (``interp1d(x, xp, w,
  method="cubic2")``, a natural cubic spline through n_basis values) where
  it is installed;
- ``bspline`` (jax backend) against the dense product ``design_matrix(x) @
  c`` at 200 basis functions: the value, value_and_grad in x, and in x and c.

Run: ``python benchmarks/backends.py [--quick | --n N]`` (--quick: 1e3
points; --n any other count, e.g. 1e6 on a GPU).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, machine_line, timed_jit

import bspline_callback as bc

try:
    import interpax
except ImportError:  # optional peer, for comparison only
    interpax = None


def timed_vg(loss, *args, argnums=0):
    """A zero-argument call of the jitted value_and_grad of ``loss``."""
    return timed_jit(jax.value_and_grad(loss, argnums), *args)


def basis_loss(t, k, w, backend):
    return lambda x: jnp.sum(bc.design_matrix(x, t, k, backend=backend) @ w)


def bspline_loss(t, k, w):
    return lambda x: jnp.sum(bc.bspline(x, t, w, k, backend="jax"))


def interpax_loss(xp, w):
    return lambda x: jnp.sum(interpax.interp1d(x, xp, w, method="cubic2"))


def vg_table(n, widths):
    k = 3
    dtype = jnp.result_type(float)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0.0, 1.0, n), dtype)
    print(f"value_and_grad of sum(basis(x) @ w), n={n}, cubic:\n")
    print(
        "| n_basis | jax µs | callback µs | jax bspline µs | interpax µs "
        "| callback/jax | interpax/jax | interpax/jax bspline |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for nb in widths:
        t = bc.uniform_knots(0.0, 1.0, nb, k)
        w = jnp.asarray(rng.normal(size=nb), dtype)
        fns = {b: timed_vg(basis_loss(t, k, w, b), x) for b in ("jax", "callback")}
        fns["bspline"] = timed_vg(bspline_loss(t, k, w), x)
        if interpax is not None:
            xp = jnp.linspace(0.0, 1.0, nb, dtype=dtype)
            fns["interpax"] = timed_vg(interpax_loss(xp, w), x)
        r = {key: v * 1e6 for key, v in bench(fns).items()}
        ipx = r.get("interpax", float("nan"))
        print(
            f"| {nb} | {r['jax']:.0f} | {r['callback']:.0f} | {r['bspline']:.0f} "
            f"| {ipx:.0f} | {r['callback'] / r['jax']:.2f} | {ipx / r['jax']:.2f} "
            f"| {ipx / r['bspline']:.2f} |",
            flush=True,
        )


def compact_table(n, nb=200):
    """``bspline`` (the banded form) against the dense product
    ``design_matrix(x) @ c``, jax backend: the value, value_and_grad in x,
    and value_and_grad in x and c."""
    k = 3
    dtype = jnp.result_type(float)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(0.0, 1.0, n), dtype)
    c = jnp.asarray(rng.normal(size=nb), dtype)
    t = bc.uniform_knots(0.0, 1.0, nb, k)

    def banded(x, c):
        return jnp.sum(bc.bspline(x, t, c, k, backend="jax"))

    def dense(x, c):
        return jnp.sum(bc.design_matrix(x, t, k, backend="jax") @ c)

    fns = {}
    for name, loss in (("banded", banded), ("dense", dense)):
        fns[f"{name} value"] = timed_jit(loss, x, c)
        fns[f"{name} vg x"] = timed_vg(loss, x, c)
        fns[f"{name} vg x, c"] = timed_vg(loss, x, c, argnums=(0, 1))
    r = {key: v * 1e6 for key, v in bench(fns).items()}
    print(
        f"\nbspline (banded) against the dense product, jax backend, n={n}, "
        f"n_basis={nb}, µs:\n"
    )
    print("| call | banded | dense product | dense/banded |")
    print("|---|---:|---:|---:|")
    for what in ("value", "vg x", "vg x, c"):
        b, d = r[f"banded {what}"], r[f"dense {what}"]
        label = what.replace("vg", "value_and_grad in")
        print(f"| {label} | {b:.0f} | {d:.0f} | {d / b:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e3")
    parser.add_argument("--n", type=float, help="number of points (default 1e4)")
    args = parser.parse_args()
    if args.quick and args.n is not None:
        parser.error("--quick and --n exclude each other")
    n = int(args.n) if args.n is not None else 1000 if args.quick else 10_000
    print(machine_line() + "\n")
    vg_table(n, [10, 50, 200])
    compact_table(n)


if __name__ == "__main__":
    main()
