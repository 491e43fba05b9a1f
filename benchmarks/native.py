"""``backend="jax"`` against the callback backend and interpax, cubic.

Medians of interleaved repeats (``basis.bench``), ratios from the same run:

- value_and_grad of ``sum(design_matrix(x) @ w)`` in x, jitted, for the jax
  and callback backends, the same spline through ``bspline(x, t, w, k,
  backend="jax")`` (the compact form: k + 1 values and a gather of w per
  point, no dense basis), and interpax's closest equivalent
  (``interp1d(x, xp, w, method="cubic2")``, a natural cubic spline through
  n_basis values) where installed; bsplx needs Python >= 3.12;
- ``bspline`` with the jax backend (the banded form: a gather of ``c``)
  against the dense product ``design_matrix(x) @ c`` at 200 basis
  functions: the value, value_and_grad in x, and in x and c.

- the jax backend's dense basis expanded from the band (its gradient a
  windowed gather of the cotangent) against dense levels computed
  directly (its gradient reading a dense derivative level), value_and_grad
  and a Hessian-vector product.

Run: ``python benchmarks/native.py [--quick | --n N]`` (n = 1e4 points;
--quick uses 1e3, --n any other count, e.g. 1e6 on a GPU).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from basis import bench, fetched, interpax, machine_line, timed_jit

import bspline_callback as bc


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


def expand_table(n):
    """The jax backend's dense basis through the band expansion (its
    derivative rule banded: ``_band.dense_from_band``) against dense levels
    computed directly (``native_levels(..., banded=False)``: the ladder's
    tangent a dense derivative level), value_and_grad and a Hessian-vector
    product of ``sum(basis(x) @ w)``."""
    k = 3
    dtype = jnp.result_type(float)
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.uniform(0.0, 1.0, n), dtype)
    print(
        f"\njax backend, dense basis from the band against dense levels, "
        f"n={n}, cubic, µs:\n"
    )
    print(
        "| n_basis | dense levels vg | from band vg | dense levels hvp "
        "| from band hvp | vg ratio | hvp ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for nb in (10, 50, 200):
        w = jnp.asarray(rng.normal(size=nb), dtype)
        r = {key: v * 1e6 for key, v in bench(expand_fns(x, nb, k, w)).items()}
        print(
            f"| {nb} | {r['levels vg']:.0f} | {r['band vg']:.0f} "
            f"| {r['levels hvp']:.0f} | {r['band hvp']:.0f} "
            f"| {r['levels vg'] / r['band vg']:.2f} "
            f"| {r['levels hvp'] / r['band hvp']:.2f} |",
            flush=True,
        )


def expand_fns(x, nb, k, w):
    t = bc.uniform_knots(0.0, 1.0, nb, k)
    fns = {}
    for name, band in (("levels", False), ("band", True)):

        def loss(x, band=band):
            return jnp.sum(fetched(x, t, k, band, backend="jax") @ w)

        fns[f"{name} vg"] = timed_vg(loss, x)
        fns[f"{name} hvp"] = timed_jit(
            lambda x, loss=loss: jax.jvp(jax.grad(loss), (x,), (jnp.ones_like(x),)), x
        )
    return fns


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
    expand_table(n)


if __name__ == "__main__":
    main()
