"""The question's code, made jit-able with the drop-in ``b_spline_basis``.

The question (Stack Overflow 74719636) builds a B-spline basis with scipy and
needs it, and its derivative in ``x``, inside numpyro, i.e. under ``jit``.
Its knots are ``[0, 0, 0, 0, 0.25, 1, 1, 1, 1]``, its points
``[0.1, 0.5, 0.9]``, its order 3. This script prints, for deriv 0..3, the
drop-in's table computed under ``jax.jit`` next to scipy's, then the
question's ``test_jax`` check: value and ``jax.grad`` of
``sum(basis @ weights)`` under ``jit``, against scipy's next derivative.

Run: ``python examples/quickstart.py [--x64]``.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from scipy.interpolate import BSpline

import bspline_callback as bc


def scipy_table(knots, order, deriv, x):
    """scipy's design matrix differentiated ``deriv`` times, first column dropped."""
    n = len(knots) - order - 1
    return BSpline(knots, np.eye(n), order)(x, deriv)[:, 1:]


def main(args):
    knots = np.array([0, 0, 0, 0, 0.25, 1, 1, 1, 1], dtype=float)
    x = jnp.array([0.1, 0.5, 0.9])
    order = 3
    np.set_printoptions(precision=6, suppress=True, linewidth=120)
    print(f"JAX {jax.__version__}, dtype {x.dtype}")

    for deriv in range(4):
        # The question's call, unchanged, now inside jax.jit.
        jitted = jax.jit(lambda x, d=deriv: bc.b_spline_basis(knots, order, d, x))
        ours = np.asarray(jitted(x))
        ref = scipy_table(knots, order, deriv, np.asarray(x, dtype=np.float64))
        print(f"\nderiv={deriv}  bspline_callback (jit) | scipy")
        for row_ours, row_ref in zip(ours, ref, strict=True):
            print(f"  {row_ours}  |  {row_ref}")
        print(f"  max |difference| = {np.abs(ours - ref).max():.2e}")

    weights = jnp.array([1.0, 2.0, 3.0, 4.0])
    print("\nThe question's test_jax: value and grad of sum(basis @ weights), jitted")
    for deriv in range(3):

        def loss(x, d=deriv):
            return jnp.sum(bc.b_spline_basis(knots, order, d, x) @ weights)

        value, grad = jax.jit(jax.value_and_grad(loss))(x)
        x64 = np.asarray(x, dtype=np.float64)
        ref_value = (scipy_table(knots, order, deriv, x64) @ np.asarray(weights)).sum()
        ref_grad = scipy_table(knots, order, deriv + 1, x64) @ np.asarray(weights)
        print(f"  deriv={deriv}: value {float(value):.6f} (scipy {ref_value:.6f})")
        print(f"           grad  {np.asarray(grad)} (scipy {ref_grad})")

    hess = jax.jit(jax.hessian(lambda x: jnp.sum(bc.b_spline_basis(knots, 3, 0, x))))
    print(
        f"\nsecond derivatives too (hessian diagonal): {np.diag(np.asarray(hess(x)))}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x64", action="store_true", help="use 64-bit floats")
    args = parser.parse_args()
    if args.x64:  # otherwise JAX_ENABLE_X64 decides, as JAX reads it
        jax.config.update("jax_enable_x64", True)
    main(args)
