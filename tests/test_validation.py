"""Bad static input fails eagerly with a clear message; bad runtime input is NaN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bspline_callback as bc

T = [0, 0, 0, 0, 0.25, 1, 1, 1, 1]


@pytest.mark.parametrize(
    "t,match",
    [
        (np.zeros((3, 4)), r"design_matrix: `t` must be a 1-D array .* shape \(3, 4\)"),
        ([0, 0, 0, 0, np.nan, 1, 1, 1, 1], r"`t` must be finite"),
        ([0, 0, 0, 0, np.inf, 1, 1, 1, 1], r"`t` must be finite"),
        ([0, 0, 0, 0, 0.5, 0.2, 1, 1, 1], r"non-decreasing order.*t\[4\]=0.5"),
        ([0, 0, 0, 1, 1, 1], r"need at least 8 knots for k=3 .* got 6"),
        ([1, 1, 1, 1, 1, 1, 1, 1], r"base interval .* is empty"),
    ],
)
def test_bad_knots_value_error(t, match):
    with pytest.raises(ValueError, match=match):
        bc.design_matrix(0.5, t, 3)
    with pytest.raises(ValueError):
        bc.BSplineBasis(t, 3)


@pytest.mark.parametrize("t", [["a", "b"] * 5, [1j] * 10, [True] * 10])
def test_non_real_knots_type_error(t):
    with pytest.raises(TypeError, match=r"`t` must hold real numbers"):
        bc.design_matrix(0.5, t, 3)


@pytest.mark.parametrize("bad", [-1, 1.0, 3.0, True, "3", None, np.float64(2)])
@pytest.mark.parametrize("arg", ["k", "nu"])
def test_bad_orders(bad, arg):
    kwargs = {"k": 3, "nu": 0}
    kwargs[arg] = bad
    err = (
        ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    )
    with pytest.raises(err, match=rf"design_matrix: `{arg}` must be"):
        bc.design_matrix(0.5, T, kwargs["k"], nu=kwargs["nu"])


def test_numpy_int_orders_accepted():
    out = bc.design_matrix(0.5, T, np.int64(3), nu=np.int32(1))
    assert out.shape == (5,)


@pytest.mark.parametrize("bad", ["yes", "Periodic", None, 2, "extrapolate"])
def test_bad_extrapolate(bad):
    with pytest.raises(
        ValueError,
        match=r"`extrapolate` must be False, True, 'periodic', 'linear' or 'constant'",
    ):
        bc.design_matrix(0.5, T, 3, extrapolate=bad)


def test_drop_in_names_its_own_arguments():
    with pytest.raises(
        ValueError, match=r"b_spline_basis: `knots` must be in non-decreasing"
    ):
        bc.b_spline_basis([0, 0, 0, 0, 0.5, 0.2, 1, 1, 1], 3, 0, 0.5)
    with pytest.raises(TypeError, match=r"b_spline_basis: `order` must be an int"):
        bc.b_spline_basis(T, 3.0, 0, 0.5)
    with pytest.raises(ValueError, match=r"b_spline_basis: `deriv` must be >= 0"):
        bc.b_spline_basis(T, 3, -1, 0.5)
    with pytest.raises(ValueError, match=r"need at least 8 knots for order=3"):
        bc.b_spline_basis([0, 0, 1, 1], 3, 0, 0.5)


def test_bad_knots_inside_jit_raise_at_trace_time():
    """Concrete knots in a jitted function fail while tracing, not in a callback."""

    @jax.jit
    def f(x):
        return bc.design_matrix(x, [0, 1, 0.5, 2, 3, 4, 5, 6], 2)

    with pytest.raises(ValueError, match="non-decreasing"):
        f(jnp.array([0.5]))


def test_traced_knot_shape_checked_eagerly():
    with pytest.raises(ValueError, match=r"need at least 8 knots"):
        jax.jit(lambda t: bc.design_matrix(0.5, t, 3))(jnp.zeros(6))
    with pytest.raises(ValueError, match=r"must be a 1-D array"):
        jax.jit(lambda t: bc.design_matrix(0.5, t, 3))(jnp.zeros((2, 8)))


def test_basis_is_frozen_hashable_and_validated():
    a = bc.BSplineBasis(T, 3)
    b = bc.BSplineBasis(np.array(T, dtype=np.float32), 3)
    assert a == b and hash(a) == hash(b)
    assert a != bc.BSplineBasis(T, 3, extrapolate=True)
    assert a != bc.BSplineBasis(T[1:-1], 2)
    assert (a.k, a.n_basis, a.extrapolate) == (3, 5, False)
    with pytest.raises(AttributeError, match="cannot assign to field"):
        a.k = 2
    with pytest.raises(ValueError, match="read-only"):
        a.t[0] = 5.0
    with pytest.raises(TypeError, match=r"BSplineBasis: `t` must be concrete"):
        jax.jit(lambda t: bc.BSplineBasis(t, 3))(jnp.asarray(T))
    with pytest.raises(TypeError, match=r"BSplineBasis.basis: `nu` must be an int"):
        a.basis(0.5, 1.5)


def test_bspline_coefficient_shape():
    with pytest.raises(
        ValueError,
        match=r"bspline: `c` must have shape \(n_basis, ...\) .* = 5, got shape \(4,\)",
    ):
        bc.bspline(0.5, T, jnp.ones(4), 3)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_runtime_input_is_nan_not_an_exception(jit):
    f = lambda x: bc.design_matrix(x, T, 3)  # noqa: E731
    f = jax.jit(f) if jit else f
    out = np.asarray(f(jnp.array([-0.1, 0.0, 0.5, 1.0, 1.1, jnp.nan, -jnp.inf])))
    rows_nan = np.isnan(out).all(axis=1)
    np.testing.assert_array_equal(
        rows_nan, [True, False, False, False, True, True, True]
    )
    assert np.isfinite(out[~rows_nan]).all()


def test_no_cpu_device_is_a_clear_trace_time_error(monkeypatch):
    """JAX started without a CPU device (``JAX_PLATFORMS=cuda``): a traced
    callback-backend call says so when traced, naming the fix, instead of
    failing inside the running computation; the jax backend and concrete
    inputs need no host device and still work. The CPU platform's absence
    is simulated: this machine's only platform is the CPU."""
    from bspline_callback import _transport

    real_devices = jax.devices

    def devices(backend=None):
        if backend == "cpu":
            raise RuntimeError("Unknown backend cpu")
        return real_devices(backend)

    t = bc.uniform_knots(0.0, 1.0, 6, 3)
    x = jnp.linspace(0.1, 0.9, 5)
    monkeypatch.setattr(jax, "devices", devices)
    _transport._host_device_error.cache_clear()
    try:
        with pytest.raises(
            RuntimeError, match=r"needs a CPU device.*JAX_PLATFORMS=cuda,cpu"
        ):
            jax.jit(lambda x: bc.design_matrix(x, t, 3))(x)
        with pytest.raises(RuntimeError, match='backend="jax"'):
            jax.grad(lambda x: bc.bspline(x, t, jnp.ones(6), 3).sum())(x)
        native = jax.jit(lambda x: bc.design_matrix(x, t, 3, backend="jax"))(x)
        concrete = bc.design_matrix(x, t, 3)
    finally:
        monkeypatch.undo()
        _transport._host_device_error.cache_clear()
    np.testing.assert_allclose(native, concrete, rtol=1e-5, atol=1e-6)
    # With the CPU back, the same traced call works.
    np.testing.assert_allclose(
        jax.jit(lambda x: bc.design_matrix(x, t, 3))(x), concrete
    )
