"""Shared test configuration.

The suite runs twice in CI: with ``JAX_ENABLE_X64=0`` (float32, JAX's
default) and ``JAX_ENABLE_X64=1`` (float64). JAX reads the variable itself.
"""

import os

import hypothesis
import jax
import pytest

# Derandomized: the same examples on every run and every machine, no deadline
# (the first call of a jitted function compiles).
hypothesis.settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60, print_blob=True
)
hypothesis.settings.register_profile("dev", deadline=None, max_examples=300)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_report_header(config):
    return f"jax {jax.__version__}, x64={jax.config.jax_enable_x64}"


@pytest.fixture
def x64():
    """Whether 64-bit floats are on for this run."""
    return bool(jax.config.jax_enable_x64)
