"""The host-call primitive: ``buffer_callback`` on a one-CPU process,
``pure_callback`` otherwise or when asked (``BSPLINE_CALLBACK_HOST_CALL``).

Every other test runs on whichever route this process takes (CI runs the
suite once more with ``BSPLINE_CALLBACK_HOST_CALL=pure_callback``); these
check the choice itself and that both routes compute the same thing.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    as_jax_points,
    assert_close,
    callback_count,
    count_primitive,
    host_call_primitive,
    scipy_basis,
)

import bspline_callback as bc
from bspline_callback import _transport

K = 3
T = bc.uniform_knots(0.0, 1.0, 9, K)
W = np.linspace(-1.0, 1.0, 9)

needs_buffer = pytest.mark.skipif(
    not _transport._buffer_path(),
    reason="buffer_callback route not taken here (old JAX, several CPU devices, "
    "or BSPLINE_CALLBACK_HOST_CALL=pure_callback)",
)


def loss(x):
    return jnp.sum(jnp.sin(bc.design_matrix(x, T, K) @ W))


def derivatives(x):
    """Value, gradient and Hessian diagonal of ``loss`` (two callbacks deep)."""
    value, grad = jax.value_and_grad(loss)(x)
    hess = jax.vmap(jax.hessian(lambda xi: loss(xi[None])))(x[:, None])
    return value, grad, hess.reshape(-1)


@needs_buffer
def test_first_use_inside_a_trace_does_not_leak_the_probe():
    """The route is probed (one tiny jitted call) on first use, usually while
    tracing: the probe runs, it is not traced into the caller's jaxpr."""
    _transport._buffer_callback_ok.cache_clear()
    x = jnp.linspace(0.1, 0.9, 5)
    jaxpr = jax.make_jaxpr(jax.grad(loss))(x).jaxpr
    assert count_primitive(jaxpr, "buffer_callback") == 1
    assert count_primitive(jaxpr, "pure_callback") == 1  # the non-CPU branch
    assert callback_count(jax.grad(loss), x) == 1


def test_environment_variable_picks_pure_callback(monkeypatch):
    x = jnp.linspace(0.1, 0.9, 5)
    monkeypatch.setenv(_transport.HOST_CALL_ENV, "pure_callback")
    assert host_call_primitive() == "pure_callback"
    jaxpr = jax.make_jaxpr(jax.grad(loss))(x).jaxpr
    assert count_primitive(jaxpr, "buffer_callback") == 0
    assert count_primitive(jaxpr, "pure_callback") == 1
    monkeypatch.setenv(_transport.HOST_CALL_ENV, "buffer")
    with pytest.raises(ValueError, match="BSPLINE_CALLBACK_HOST_CALL='buffer'"):
        jax.make_jaxpr(loss)(x)


@needs_buffer
def test_both_routes_give_the_same_bits(monkeypatch):
    """The same host function behind either primitive: equal results,
    bit for bit, through two levels of differentiation and under vmap."""
    xj, x64 = as_jax_points(np.linspace(0.02, 0.98, 23))
    fast = jax.jit(derivatives)(xj)
    batched = jax.jit(jax.vmap(derivatives))(xj.reshape(1, -1))
    monkeypatch.setenv(_transport.HOST_CALL_ENV, "pure_callback")
    pure = jax.jit(derivatives)(xj)  # a new function: traced again
    for a, b in zip(fast, pure, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(batched, pure, strict=True):
        np.testing.assert_array_equal(np.asarray(a).reshape(-1), np.asarray(b).ravel())
    # and the values are scipy's (the gradient: the chain rule by hand)
    basis, slope = scipy_basis(x64, T, K), scipy_basis(x64, T, K, 1)
    assert_close(
        fast[1], np.cos(basis @ W) * (slope @ W), scale=np.abs(slope @ W).max()
    )


def test_host_function_cannot_write_into_the_jax_input():
    """The host function gets XLA's input buffer on the buffer route: it must
    be read-only (as ``pure_callback``'s arrays are), or a float64 copy."""
    seen = []

    def host(x, nu):
        seen.append(x.flags.writeable)
        try:
            x[...] = -1.0
        except ValueError:  # read-only
            pass
        return np.zeros((x.shape[0], 1))

    f = jax.jit(bc.differentiable_callback(host, feature_shape=(1,)))
    x64 = np.linspace(0.0, 1.0, 7)
    xj = jnp.asarray(x64, dtype=jnp.result_type(float))
    before = np.array(xj)
    f(xj).block_until_ready()
    np.testing.assert_array_equal(np.asarray(xj), before)
    # Read-only whether it is XLA's buffer (float64) or a converted copy.
    assert seen == [False]
