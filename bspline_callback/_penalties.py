"""Smoothness priors for B-spline coefficients, in the sampler-friendly form.

- :func:`difference_penalty`: Eilers and Marx's ``D.T @ D``, ``D`` the
  ``order``-th difference matrix (cyclic: the differences wrap around);
- :func:`sum_to_zero`: the identifiability constraint of a smooth beside an
  intercept, absorbed by QR of the basis' column sums (as mgcv does);
- :func:`penalty_reparam`: the penalty's null space and its range scaled to
  unit penalty, so that ``beta = U_null @ alpha + U_pen @ b`` with ``b ~
  N(0, tau^2 I)`` has the penalty's density: mgcv's ``smooth2random``,
  which removes the funnel between the smoothing scale and the
  coefficients (docs/smoothing.md).

All take and return concrete numpy arrays, built once outside the model;
the basis they multiply may be traced (``B(x) @ Z``, ``B(x) @ U_pen``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_order
from ._ladder import is_traced

__all__ = ["difference_penalty", "penalty_reparam", "sum_to_zero"]


def difference_penalty(
    n_basis: int, order: int = 2, *, cyclic: bool = False
) -> np.ndarray:
    """The difference penalty ``D.T @ D`` of Eilers and Marx (1996).

    Parameters
    ----------
    n_basis : int
        Number of coefficients, ``> order``.
    order : int, default 2
        Order of the differences, ``>= 1``.
    cyclic : bool, default False
        Let the differences wrap around (``beta[n_basis] = beta[0]``), for
        a periodic basis.

    Returns
    -------
    ndarray, shape (n_basis, n_basis), float64
        Symmetric, positive semi-definite. Its null space is the polynomials
        of degree ``< order`` in the coefficient index (dimension
        ``order``), or the constants when ``cyclic`` (dimension 1).

    Raises
    ------
    TypeError
        If ``n_basis`` or ``order`` is not an int, or ``cyclic`` not a bool.
    ValueError
        If ``order < 1`` or ``n_basis <= order``.

    Examples
    --------
    >>> import bspline_callback as bc
    >>> bc.difference_penalty(4, 1)
    array([[ 1., -1.,  0.,  0.],
           [-1.,  2., -1.,  0.],
           [ 0., -1.,  2., -1.],
           [ 0.,  0., -1.,  1.]])
    """
    func = "difference_penalty"
    n_basis = check_order(func, n_basis, "n_basis")
    order = check_order(func, order, "order")
    if not isinstance(cyclic, (bool, np.bool_)):
        raise TypeError(f"{func}: `cyclic` must be a bool, got {cyclic!r}.")
    if order < 1:
        raise ValueError(f"{func}: `order` must be >= 1, got {order}.")
    if n_basis <= order:
        raise ValueError(
            f"{func}: need n_basis > order = {order} coefficients, "
            f"got n_basis={n_basis}."
        )
    eye = np.eye(n_basis)
    if cyclic:
        first = np.roll(eye, 1, axis=1) - eye  # row i: beta[i + 1] - beta[i]
        d = np.linalg.matrix_power(first, order)
    else:
        d = np.diff(eye, order, axis=0)
    return d.T @ d


def sum_to_zero(B: Any) -> np.ndarray:
    """The constraint that a smooth sums to zero over the data, absorbed.

    Parameters
    ----------
    B : array_like, shape (n, n_basis)
        The basis evaluated at the data (concrete).

    Returns
    -------
    Z : ndarray, shape (n_basis, n_basis - 1), float64
        Orthonormal columns with ``ones(n) @ B @ Z == 0``: the last
        ``n_basis - 1`` columns of the complete QR factor of the column
        sums ``B.sum(0)`` (mgcv's absorption of the constraint). Use ``B @
        Z`` as the basis (traced ``B(x)`` too) and ``Z.T @ S @ Z`` as its
        penalty; ``beta = Z @ gamma`` are the constrained coefficients.

    Raises
    ------
    TypeError
        If ``B`` is traced or not real.
    ValueError
        If ``B`` is not 2-D with a row and two columns, is not finite, or
        its columns sum to zero already.
    """
    func = "sum_to_zero"
    B = _concrete(func, "B", B)
    if B.ndim != 2 or B.shape[0] < 1 or B.shape[1] < 2:
        raise ValueError(
            f"{func}: `B` must have shape (n, n_basis) with n >= 1 and "
            f"n_basis >= 2, got shape {B.shape}."
        )
    sums = B.sum(axis=0)
    if not np.any(sums):
        raise ValueError(f"{func}: the columns of `B` sum to zero already.")
    q, _ = np.linalg.qr(sums[:, None], mode="complete")
    return q[:, 1:]


def penalty_reparam(
    S: Any, *, null_tol: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The penalty's null space, and its range scaled to unit penalty.

    Parameters
    ----------
    S : array_like, shape (n, n)
        A penalty matrix: symmetric, positive semi-definite (concrete).
    null_tol : float, optional
        Eigenvalues at or below ``null_tol`` times the largest count as
        zero. Default ``1e-15``: above the rounding of a penalty computed
        in floating point (``Z.T @ S @ Z``), below the smallest non-zero
        eigenvalue of a difference penalty of order 2 up to 5000
        coefficients, order 3 up to 900 and order 4 up to 280. The
        eigenvalues near zero are recomputed in extended precision on their
        eigenvectors (a Rayleigh-Ritz step), so for penalties whose entries
        are exact, such as :func:`difference_penalty` and its Kronecker
        sums, a smaller ``null_tol`` (down to about ``1e-20``) resolves
        larger ones. ``0`` counts only exact zeros.

    Returns
    -------
    U_null : ndarray, shape (n, r), float64
        An orthonormal basis of the null space: the unpenalised part.
    U_pen : ndarray, shape (n, n - r), float64
        The range's eigenvectors divided by the square roots of their
        eigenvalues: ``U_pen.T @ S @ U_pen == I`` (to about ``eps`` times
        the ratio of the largest to the smallest non-zero eigenvalue: 1e-10
        for difference penalties of up to about 60 coefficients) and ``S @
        U_null == 0``.
        With ``beta = U_null @ alpha + U_pen @ b`` and ``b ~ N(0, tau^2 I)``
        iid, the density of ``beta`` on the range is ``exp(-beta.T S beta /
        (2 tau^2))`` (mgcv's ``smooth2random``): the non-centred form.

    Raises
    ------
    TypeError
        If ``S`` is traced or not real.
    ValueError
        If ``S`` is not square, finite, symmetric or positive
        semi-definite (an eigenvalue below ``-n * eps * 4`` times the
        largest, beyond rounding), or ``null_tol`` is not in ``[0, 1)``.

    Notes
    -----
    The rank decides the normalising constant of the scale's prior, so it
    must be right: an eigenvalue of ``1e-16`` relative to the largest is
    below what a double-precision eigensolver resolves (its error is about
    ``eps`` times the largest), hence the refinement of the small ones:
    with ``V`` their eigenvectors, the eigenvalues of ``V.T @ S @ V``
    computed in ``numpy.longdouble`` are accurate to about ``eps**2``
    relative (a Rayleigh quotient's error is quadratic in its vector's).
    Where ``longdouble`` is plain double the refinement changes nothing.
    """
    func = "penalty_reparam"
    S = _concrete(func, "S", S)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 1:
        raise ValueError(f"{func}: `S` must be a square matrix, got shape {S.shape}.")
    scale = np.abs(S).max()
    if not np.allclose(S, S.T, rtol=0, atol=1e-12 * max(scale, 1e-300)):
        raise ValueError(f"{func}: `S` must be symmetric.")
    n = S.shape[0]
    if null_tol is None:
        null_tol = 1e-15
    if not 0 <= float(null_tol) < 1:
        raise ValueError(f"{func}: `null_tol` must be in [0, 1), got {null_tol!r}.")
    S = (S + S.T) / 2
    values, vectors = np.linalg.eigh(S)
    top = max(values.max(), 0.0)
    # Beyond what rounding explains, whatever null_tol says.
    rounding = n * np.finfo(np.float64).eps * 4 * max(top, 1e-300)
    if values.min() < -rounding:
        raise ValueError(
            f"{func}: `S` must be positive semi-definite; its smallest "
            f"eigenvalue is {values.min():.3g} (largest {top:.3g})."
        )
    # Twice: the second pass, on a narrower range, resolves the vectors too.
    for small in (1e-6, 1e-11):
        values, vectors = _refine_small(S, values, vectors, top, small)
    null = values <= null_tol * top
    return vectors[:, null], vectors[:, ~null] / np.sqrt(values[~null])


def _refine_small(S, values, vectors, top, small):
    """The eigenpairs below ``small * top`` recomputed on their subspace:
    ``V.T @ S @ V`` in extended precision, diagonalised after scaling (so
    that double precision resolves it relative to its own size)."""
    few = values <= small * top
    if not few.any():
        return values, vectors
    V = vectors[:, few]
    wide = np.longdouble
    M = V.T.astype(wide) @ S.astype(wide) @ V.astype(wide)
    scale = float(np.abs(M).max()) or 1.0
    w, R = np.linalg.eigh((M / wide(scale)).astype(np.float64))
    values, vectors = values.copy(), vectors.copy()
    values[few], vectors[:, few] = w * scale, V @ R
    return values, vectors


def _concrete(func: str, name: str, a: Any) -> np.ndarray:
    if is_traced(a):
        raise TypeError(
            f"{func}: `{name}` must be concrete (numpy, or a JAX array outside "
            "jit): it is built once from the data, outside the model."
        )
    a = np.asarray(a)
    if a.dtype.kind not in "iuf":
        raise TypeError(
            f"{func}: `{name}` must hold real numbers, got dtype {a.dtype}."
        )
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{func}: `{name}` must be finite.")
    return a
