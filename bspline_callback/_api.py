"""The public B-spline functions: one call each, on the cached basis.

``design_matrix``, ``design_matrix_compact``, ``bspline`` and the drop-in
``b_spline_basis``; each validates its arguments eagerly and delegates to
the levels of a cached :class:`BSplineBasis` (or, for traced knots, to the
same machinery with the knots as an operand).
"""

from __future__ import annotations

from typing import Any

import jax

from ._basis import for_knots
from ._checks import check_order

__all__ = ["b_spline_basis", "bspline", "design_matrix", "design_matrix_compact"]


def design_matrix(
    x: Any,
    t: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """The dense B-spline basis (or its ``nu``-th derivative) at ``x``.

    Equal to ``scipy.interpolate.BSpline(t, np.eye(n), k, extrapolate)(x, nu)``
    (except outside the base interval without extrapolation: NaN rows for
    every ``nu``, where scipy gives 0 for ``nu >= k + 2``), evaluated by
    scipy's compiled routines on the host through a host call
    (or in pure JAX with ``backend="jax"``), and differentiable in ``x`` to
    any order through ``jax.custom_jvp``: the derivative of level ``nu`` is
    level ``nu + 1``, fetched in the same host call.

    Parameters
    ----------
    x : array_like, any shape (scalar, 1-D, n-D, empty), real dtype
        Evaluation points, concrete or traced. Integer ``x`` is promoted.
    t : array_like, shape (nt,)
        Knots: 1-D, real, finite, non-decreasing, ``nt >= 2k + 2``. Concrete
        knots are validated here, before any tracing. Traced knots (a ``jit``
        argument) are accepted: invalid ones give NaN rows, and they are
        passed to the host in x's float dtype (float32 unless x64 is on).
    k : int
        Degree, ``k >= 0``.
    nu : int, default 0
        Derivative order with respect to ``x``, ``nu >= 0``; ``nu > k`` gives
        zeros.
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
        What happens to ``x`` outside the base interval ``[t[k], t[n]]``
        (``n = nt - k - 1``, both ends included; a point equal to an end
        rounded to x's dtype is that end):

        - ``False``: NaN rows (and a ``UserWarning`` for concrete ``x``);
        - ``True``: the end polynomial pieces continue (scipy);
        - ``"periodic"``: ``x`` is wrapped into the base interval (scipy);
        - ``"linear"``: each basis function continues as its tangent at the
          nearer end (scikit-learn's ``SplineTransformer``); level 1 is the
          end slope there and higher levels are 0. The choice for points
          that depend on parameters: finite and differentiable everywhere;
        - ``"constant"``: each continues as its value at the nearer end;
          levels ``>= 1`` are 0 there.

        NaN or infinite ``x`` always gives a NaN row. To drop NaN rows
        after the call, clip ``x`` first or use ``"linear"``/
        ``"constant"``: a ``jnp.where`` on the dense result leaves NaN in
        the gradient with respect to ``x`` (:func:`bspline` masks cleanly).
    backend : {"callback", "jax"}, default "callback"
        ``"callback"``: scipy's compiled routines on the host through a
        host callback (exactly scipy's values). ``"jax"``: the same
        basis in pure ``jax.numpy`` (span search and de Boor's recurrence on
        the ``k + 1`` non-zeros; agrees with scipy to rounding), with no
        host round trip: faster for small and medium problems, and it runs
        on accelerators. Same shapes, dtypes, NaN policy and errors.

    Returns
    -------
    jax.Array, shape (*x.shape, nt - k - 1)
        Dtype ``jnp.result_type(float, x.dtype)``: float32 by default,
        float64 under ``jax_enable_x64``.

    Raises
    ------
    TypeError
        ``k`` or ``nu`` not an int (bool and float included); ``t`` not real.
    ValueError
        ``k`` or ``nu`` negative; ``t`` not 1-D, with NaN or inf, decreasing,
        shorter than ``2k + 2``, or with an empty base interval; unknown
        ``extrapolate`` or ``backend``. Also ``TypeError`` when
        differentiating with respect to traced knots (not supported; never
        silently zero).
    RuntimeError
        When traced with the callback backend in a process whose JAX has
        no CPU device for the host call (``JAX_PLATFORMS=cuda``): list
        ``cpu`` too, or use ``backend="jax"``.
    NotImplementedError
        When traced with the callback backend for ``jax.export`` with a
        symbolic number of points (a host callback cannot be exported; the
        jax backend can).

    Notes
    -----
    The B-splines satisfy the Cox-de Boor recurrence, and their derivative

    .. math:: B'_{i,k}(x) = k \\left(\\frac{B_{i,k-1}(x)}{t_{i+k} - t_i}
              - \\frac{B_{i+1,k-1}(x)}{t_{i+k+1} - t_{i+1}}\\right)

    is again a (lower-degree) basis, which is what the host computes for
    ``nu > 0``. Runtime problems never raise inside the traced computation:
    under NUTS a NaN potential is a rejected proposal, an exception would
    end the run.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import bspline_callback as bc
    >>> t = [0, 0, 0, 0, 0.25, 1, 1, 1, 1]
    >>> B = jax.jit(lambda x: bc.design_matrix(x, t, 3))(jnp.array([0.1, 0.5]))
    >>> B.shape
    (2, 5)
    >>> float(B.sum(axis=-1)[0])  # partition of unity
    1.0
    """
    levels = for_knots("design_matrix", t, k, extrapolate, backend)
    return levels.dense_level(
        "design_matrix", x, check_order("design_matrix", nu, "nu")
    )


def b_spline_basis(
    knots: Any, order: int, deriv: int, x: Any, *, backend: str = "callback"
) -> jax.Array:
    """``design_matrix(x, knots, order, nu=deriv)[..., 1:]``.

    The ``deriv``-th derivative (with respect to ``x``) of scipy's
    ``BSpline.design_matrix(x, knots, order)`` with its first column
    removed, under ``jit``, ``vmap`` and ``grad`` of any order; a drop-in
    for a host function of that name and signature.

    Parameters
    ----------
    knots : array_like, shape (nt,)
        Knots, as for :func:`design_matrix` ``t``.
    order : int
        Spline degree (scipy's ``k``).
    deriv : int
        Derivative order, ``>= 0``; ``deriv > order`` gives zeros.
    x : array_like, any shape
        Evaluation points inside ``[knots[order], knots[-order - 1]]``;
        points outside (or NaN) give NaN rows instead of the ``ValueError``
        scipy raises, so that a traced model never raises.
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix` (keyword only: the four positional
        arguments are those of the drop-in).

    Returns
    -------
    jax.Array, shape (*x.shape, nt - order - 2)

    Raises
    ------
    TypeError, ValueError, RuntimeError, NotImplementedError
        As :func:`design_matrix`, naming ``knots``, ``order`` and ``deriv``.
    """
    func = "b_spline_basis"
    levels = for_knots(
        func, knots, order, False, backend, t_name="knots", k_name="order"
    )
    return levels.dense_level(func, x, check_order(func, deriv, "deriv"))[..., 1:]


def bspline(
    x: Any,
    t: Any,
    c: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """Spline value ``design_matrix(x, t, k, nu=nu) @ c``.

    Differentiable in ``x`` (any order) and in the coefficients ``c`` (the
    usual numpyro case: ``c`` are model parameters). At traced points it is
    computed from the band (a gather of ``k + 1`` coefficients per point);
    at observed (concrete) points of up to ``3e4`` basis entries (points
    times functions) as the dense basis, built once, times ``c``, which is
    faster there (``benchmarks/fixed_points.py``).

    Parameters
    ----------
    x : array_like, any shape
    t : array_like, shape (nt,)
    c : array_like, shape (n_basis, *trailing)
        Coefficients, ``n_basis = nt - k - 1``; concrete or traced.
    k : int
    nu : int, default 0
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix`.

    Returns
    -------
    jax.Array, shape (*x.shape, *trailing)
        NaN on the rows the NaN policy makes NaN; their gradients (in ``x``
        and ``c``) are 0, so ``jnp.where(ok, bspline(...), 0.0)`` masks them
        with finite gradients.
        Equal to ``scipy.interpolate.BSpline(t, c, k, extrapolate)(x, nu)``.

    Raises
    ------
    ValueError
        ``c`` is a scalar or ``c.shape[0] != nt - k - 1``; and as
        :func:`design_matrix`.
    """
    levels = for_knots("bspline", t, k, extrapolate, backend)
    return levels.spline("bspline", x, c, check_order("bspline", nu, "nu"))


def design_matrix_compact(
    x: Any,
    t: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> tuple[jax.Array, jax.Array]:
    """The ``k + 1`` possibly non-zero entries of each row of the basis.

    What ``scipy.interpolate.BSpline.design_matrix`` stores per row of its
    CSR matrix, without the ``(n, n_basis)`` zeros: for large bases the
    cost and the transfer grow with ``n * k``, not ``n * n_basis``.
    ``design_matrix(x, t, k, nu=nu)[..., first + j] == values[..., j]``,
    and every other column is zero.

    Parameters
    ----------
    x, t, k, nu, extrapolate, backend
        As for :func:`design_matrix`.

    Returns
    -------
    values : jax.Array, shape (*x.shape, k + 1)
        ``values[..., j]`` is the ``nu``-th derivative of B-spline
        ``first + j`` at ``x``; dtype ``jnp.result_type(float, x.dtype)``.
        Differentiable in ``x`` to any order (d/dx of level ``nu`` is level
        ``nu + 1`` at the same ``first``). Rows where the NaN policy applies
        are NaN, and so are their derivatives.
    first : jax.Array, shape (*x.shape,), int32
        Column of ``values[..., 0]``, in ``0 .. n_basis - k - 1``;
        piecewise constant in ``x`` (no derivative); 0 on NaN rows.

    Raises
    ------
    TypeError, ValueError, RuntimeError, NotImplementedError
        As :func:`design_matrix`, naming ``design_matrix_compact``; also
        ``ValueError`` for more than ``2**24`` basis functions with the
        callback backend (the column would not be exact in float32).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import bspline_callback as bc
    >>> values, first = bc.design_matrix_compact(
    ...     jnp.array([0.1, 0.9]), [0, 0, 0, 0, 0.5, 1, 1, 1, 1], 3
    ... )
    >>> values.shape, first.tolist()
    ((2, 4), [0, 1])
    """
    func = "design_matrix_compact"
    levels = for_knots(func, t, k, extrapolate, backend)
    return levels.band_level(func, x, check_order(func, nu, "nu"))
