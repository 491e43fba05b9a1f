"""scipy's B-splines inside JAX programs: jit, vmap and grad of any order.

Every public name is re-exported here from its private home module:

- ``_api``: :func:`design_matrix`, :func:`design_matrix_compact`,
  :func:`bspline`, :func:`b_spline_basis`
- ``_basis``: :class:`BSplineBasis`
- ``_nd``: :func:`design_matrix_nd`, :func:`bspline_nd`
- ``_callback``: :func:`differentiable_callback`
- ``_scipy``: :func:`from_scipy`
- ``_knots``: :func:`uniform_knots`, :func:`quantile_knots`
- ``_penalties``: :func:`difference_penalty`, :func:`sum_to_zero`,
  :func:`penalty_reparam`
- ``_diagnostics``: :func:`points_outside`; ``_points``: :func:`record_outside`

docs/design.md describes the layers underneath.
"""

import importlib.metadata

from ._api import (
    b_spline_basis as b_spline_basis,
    bspline as bspline,
    design_matrix as design_matrix,
    design_matrix_compact as design_matrix_compact,
)
from ._basis import BSplineBasis as BSplineBasis
from ._callback import differentiable_callback as differentiable_callback
from ._diagnostics import points_outside as points_outside
from ._knots import (
    quantile_knots as quantile_knots,
    uniform_knots as uniform_knots,
)
from ._nd import (
    bspline_nd as bspline_nd,
    design_matrix_nd as design_matrix_nd,
)
from ._penalties import (
    difference_penalty as difference_penalty,
    penalty_reparam as penalty_reparam,
    sum_to_zero as sum_to_zero,
)
from ._points import record_outside as record_outside
from ._scipy import from_scipy as from_scipy

try:
    __version__ = importlib.metadata.version("bspline_callback")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree
    __version__ = "0+unknown"

__all__ = [
    "BSplineBasis",
    "b_spline_basis",
    "bspline",
    "bspline_nd",
    "design_matrix",
    "design_matrix_compact",
    "design_matrix_nd",
    "difference_penalty",
    "differentiable_callback",
    "from_scipy",
    "penalty_reparam",
    "points_outside",
    "record_outside",
    "quantile_knots",
    "sum_to_zero",
    "uniform_knots",
]
