"""The question's host code (Stack Overflow 74719636, "JAX with JIT and custom
differentiation"), kept as the user wrote it: the reference the drop-in must
reproduce, and the host function the public bridge must accept unchanged.

``_b_spline_deriv_inner`` is verbatim. The question's ``_b_spline_eval`` and
``b_spline_basis`` bodies are transcribed from its description (degree-k
design matrix for ``deriv == 0``, else the derivative formula applied to the
degree ``k - 1`` basis; first column dropped).
"""

import numpy as np
from numpy import typing as npt
from scipy.interpolate import BSpline

doubleArray = npt.NDArray[np.double]


# see
#   https://stackoverflow.com/q/74699053/5861244
#   https://en.wikipedia.org/wiki/B-spline#Derivative_expressions
def _b_spline_deriv_inner(spline: BSpline, deriv_basis: doubleArray) -> doubleArray:  # type: ignore[no-any-unimported]
    out = np.zeros((deriv_basis.shape[0], deriv_basis.shape[1] - 1))

    for col_index in range(out.shape[1] - 1):
        scale = spline.t[col_index + spline.k + 1] - spline.t[col_index + 1]
        if scale != 0:
            out[:, col_index] = -deriv_basis[:, col_index + 1] / scale

    for col_index in range(1, out.shape[1]):
        scale = spline.t[col_index + spline.k] - spline.t[col_index]
        if scale != 0:
            out[:, col_index] += deriv_basis[:, col_index] / scale

    return float(spline.k) * out


def _b_spline_eval(spline: BSpline, x: doubleArray, deriv: int) -> doubleArray:  # type: ignore[no-any-unimported]
    if deriv == 0:
        return spline.design_matrix(x=x, t=spline.t, k=spline.k).todense()
    elif spline.k <= 0:
        return np.zeros((x.shape[0], spline.t.shape[0] - spline.k - 1))

    return _b_spline_deriv_inner(
        spline=spline,
        deriv_basis=_b_spline_eval(
            BSpline(t=spline.t, k=spline.k - 1, c=np.zeros(spline.c.shape[0] + 1)),
            x=x,
            deriv=deriv - 1,
        ),
    )


def b_spline_basis(
    knots: doubleArray, order: int, deriv: int, x: doubleArray
) -> doubleArray:
    return _b_spline_eval(
        spline=BSpline(t=knots, k=order, c=np.zeros(knots.shape[0] - order - 1)),
        x=x,
        deriv=deriv,
    )[:, 1:]
