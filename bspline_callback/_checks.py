"""Eager validation of static arguments, before anything is traced.

Each check raises one ``TypeError``/``ValueError`` per broken invariant, with
a message that names the calling function and the argument, says what is
wrong, shows what was received and, where there is one, suggests the fix.
"""

from __future__ import annotations

import operator
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["check_backend", "check_extrapolate", "check_knots", "check_order"]


def check_order(func: str, value: Any, argname: str) -> int:
    """A degree or derivative order: a non-negative Python (or numpy) int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{func}: `{argname}` must be an int >= 0, got {value!r} of type "
            f"{type(value).__name__}. It is static (it fixes the output "
            f"shape), so it cannot be a float, a bool or a traced array."
        )
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{func}: `{argname}` must be >= 0, got {value}.")
    return value


EXTRAPOLATE_MODES = ("periodic", "linear", "constant")


def check_orders(func: str, value: Any, d: int, argname: str) -> tuple[int, ...]:
    """Derivative orders of ``d`` coordinates: an int (the same for each) or
    a sequence of ``d`` ints, each ``>= 0``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (check_order(func, value, argname),) * d
    if not isinstance(value, (tuple, list)) or len(value) != d:
        raise ValueError(
            f"{func}: `{argname}` must be an int or a sequence of {d} ints (one "
            f"per coordinate), got {value!r}."
        )
    return tuple(check_order(func, v, f"{argname}[{i}]") for i, v in enumerate(value))


def check_points_ndim(func: str, shape: tuple, d: int) -> None:
    """Points of ``d`` coordinates: ``x`` of shape ``(..., d)``."""
    if len(shape) < 1 or shape[-1] != d:
        raise ValueError(
            f"{func}: `x` must have shape (..., {d}) for {d} coordinates per "
            f"point, got shape {tuple(shape)}."
        )


def check_extrapolate(func: str, value: Any) -> bool | str:
    """``False``, ``True``, ``"periodic"``, ``"linear"`` or ``"constant"``,
    normalised to a Python value."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value in EXTRAPOLATE_MODES:
        return value
    raise ValueError(
        f"{func}: `extrapolate` must be False, True, 'periodic', 'linear' or "
        f"'constant', got {value!r}."
    )


def check_real_points(func: str, x: Any) -> None:
    """``x`` must not be complex (its imaginary part would be dropped)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:  # a list, possibly of tracers
        dtype = np.result_type(
            *(getattr(v, "dtype", None) or np.asarray(v).dtype for v in _leaves(x))
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(
            f"{func}: `x` must be real, got dtype {dtype}. Pass jnp.real(x) "
            "if the imaginary part is meant to be dropped."
        )


def _leaves(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _leaves(item)] or [np.float64(0)]
    return [x]


def check_knot_dtype(func: str, dtype: Any, t_name: str, t: Any) -> None:
    """Knots hold real numbers: not bool, complex, strings or objects."""
    if not (np.dtype(dtype).kind in "iu" or jnp.issubdtype(dtype, jnp.floating)):
        raise TypeError(
            f"{func}: `{t_name}` must hold real numbers, got dtype {dtype} ({t!r})."
        )


def check_backend(func: str, value: Any) -> str:
    """``"callback"`` (scipy on the host) or ``"jax"`` (pure JAX)."""
    if isinstance(value, str) and value in ("callback", "jax"):
        return value
    raise ValueError(
        f"{func}: `backend` must be 'callback' (scipy on the host, the "
        f"default) or 'jax' (pure JAX, no host), got {value!r}."
    )


def _shape_name(a: np.ndarray) -> str:
    return f"an array of shape {a.shape}"


def check_knot_shape(
    func: str, shape: tuple[int, ...], k: int, *, t_name: str, k_name: str
) -> None:
    """The checks that need only the shape (also possible for traced knots)."""
    if len(shape) != 1:
        raise ValueError(
            f"{func}: `{t_name}` must be a 1-D array of knots, got an array "
            f"of shape {shape}."
        )
    if shape[0] < 2 * k + 2:
        raise ValueError(
            f"{func}: need at least {2 * k + 2} knots for {k_name}={k} "
            f"(2 * {k_name} + 2), got {shape[0]}."
        )


def check_knots(
    func: str, t: Any, k: int, *, t_name: str = "t", k_name: str = "k"
) -> np.ndarray:
    """Concrete knots: 1-D, real, finite, non-decreasing, enough of them.

    Returns a read-only float64 copy, the form the host code closes over.
    """
    try:
        arr = np.asarray(t)
    except Exception as err:  # e.g. ragged lists
        raise TypeError(
            f"{func}: `{t_name}` must be a 1-D array of real knots, got {t!r}."
        ) from err
    check_knot_dtype(func, arr.dtype, t_name, t)
    check_knot_shape(func, arr.shape, k, t_name=t_name, k_name=k_name)
    arr = np.array(arr, dtype=np.float64) + 0.0  # + 0.0: -0.0 becomes 0.0
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{func}: `{t_name}` must be finite, got NaN or inf in {arr}.")
    if np.any(np.diff(arr) < 0):
        i = int(np.argmax(np.diff(arr) < 0))
        raise ValueError(
            f"{func}: `{t_name}` must be in non-decreasing order, but "
            f"{t_name}[{i}]={float(arr[i])!r} > "
            f"{t_name}[{i + 1}]={float(arr[i + 1])!r}. "
            f"Sort the knots first (np.sort)."
        )
    n = arr.shape[0] - k - 1
    if not arr[k] < arr[n]:
        raise ValueError(
            f"{func}: the base interval [{t_name}[{k}], {t_name}[{n}]] = "
            f"[{float(arr[k])!r}, {float(arr[n])!r}] is empty; the interior "
            f"knots must span a non-empty interval."
        )
    empty = np.flatnonzero(arr[k + 1 :] <= arr[: -k - 1])
    if empty.size:
        j = int(empty[0])
        raise ValueError(
            f"{func}: the knot {float(arr[j])!r} is repeated more than "
            f"{k_name} + 1 = {k + 1} times ({t_name}[{j}] == "
            f"{t_name}[{j + k + 1}]), so basis function {j} is zero everywhere. "
            f"Repeat a knot at most {k + 1} times (the ends included)."
        )
    arr.setflags(write=False)
    return arr
