"""``points_outside``: which spline calls of a numpyro model get NaN rows.

Under NUTS the points are traced and nothing warns: a point outside the
base interval with ``extrapolate=False`` makes the potential NaN, which
NUTS treats as a rejected proposal (a divergent transition), silently.
This runs the model eagerly, outside any sampler, at numpyro's initial
point or at posterior draws, where the points are concrete, and collects
the calls with points outside (:func:`~bspline_callback._points.record_outside`).
numpyro is imported here only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._points import Outside, record_outside

__all__ = ["points_outside"]


def points_outside(
    model: Callable,
    *args: Any,
    samples: Mapping[str, Any] | None = None,
    num_draws: int = 5,
    init_strategy: Callable | None = None,
    rng_seed: int = 0,
    **kwargs: Any,
) -> list[Outside]:
    """The B-spline calls of a numpyro model whose points lie outside the
    base interval (so their rows are NaN), at its initial point or at
    posterior draws.

    Parameters
    ----------
    model : callable
        The numpyro model.
    *args, **kwargs
        Its arguments, as passed to ``MCMC.run`` after the key.
    samples : dict of arrays, optional
        Posterior draws, ``mcmc.get_samples()`` (leading axis the draws).
        Without them the model runs at the point NUTS starts from:
        ``init_strategy`` with ``rng_seed``.
    num_draws : int, default 5
        How many draws, evenly spaced over ``samples``.
    init_strategy : callable, optional
        numpyro's ``init_to_*`` strategy, as given to ``NUTS``; default
        ``init_to_uniform`` (numpyro's default).
    rng_seed : int, default 0
        The seed the model runs under (``numpyro.handlers.seed``).

    Returns
    -------
    list of Outside
        One entry per call with points outside: ``where`` ("initial point"
        or "draw i"), ``function``, ``call_site`` (file:line in the model),
        ``outside`` and ``points`` (counts), ``interval``. Printed, each is
        one line. Empty when every point is inside.

    See Also
    --------
    record_outside : the checked mode, for the proposals of a run.

    Notes
    -----
    Posterior draws are accepted states, whose potential is finite: with
    ``extrapolate=False`` their points are inside. The proposals NUTS
    rejects at the NaN wall (counted as divergent transitions) are seen by
    :func:`record_outside` around a short ``mcmc.run`` instead.

    The model runs eagerly (not under ``jit``) with concrete parameter
    values and numpyro's argument validation off, so every spline call sees
    concrete points and a NaN mean does not stop the run; the sampler pays
    nothing. Calls traced inside ``jax.jit`` or ``lax.scan`` within the
    model are counted too, through a debug callback, if they are traced
    during this call (not served from an earlier trace's cache).

    Examples
    --------
    >>> found = bc.points_outside(model, x_obs, y, samples=mcmc.get_samples())
    ... # doctest: +SKIP
    >>> print(*found, sep="\\n")  # doctest: +SKIP
    draw 0: bspline at model.py:14: 3 of 100 points outside the base interval ...
    """
    try:
        import numpyro
        from numpyro import handlers
        from numpyro.infer import init_to_uniform
    except ImportError as err:  # pragma: no cover - numpyro is an extra
        raise ImportError(
            "points_outside: needs numpyro (pip install numpyro)."
        ) from err
    runs = []
    if samples is None:
        strategy = init_to_uniform if init_strategy is None else init_strategy
        runs.append(("initial point", {"substitute_fn": strategy}))
    else:
        sizes = {np.shape(v)[0] for v in samples.values() if np.ndim(v)}
        if len(sizes) != 1:
            raise ValueError(
                "points_outside: `samples` must be a dict of arrays with one "
                "leading number of draws (mcmc.get_samples()), got leading "
                f"sizes {sorted(sizes)}."
            )
        (size,) = sizes
        picks = np.unique(np.linspace(0, size - 1, max(1, min(num_draws, size))))
        for i in picks.astype(int):
            draw = {name: value[i] for name, value in samples.items()}
            runs.append((f"draw {i}", {"data": draw}))
    found = []
    for where, how in runs:
        seeded = handlers.seed(model, rng_seed)
        # Without numpyro's argument checks, which would stop at the first
        # NaN mean ("invalid loc parameter") before the calls are counted.
        with record_outside() as calls, numpyro.validation_enabled(False):
            handlers.substitute(seeded, **how)(*args, **kwargs)
        found += [dataclasses.replace(c, where=where) for c in calls]
    return found
