"""Every example runs as a subprocess with tiny settings, in a temporary directory."""

import os
from pathlib import Path

import pytest
from helpers import run_python

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = ["--num-warmup", "20", "--num-samples", "20", "--num-chains", "2"]


def _run(script, args, cwd):
    env = {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    return run_python(EXAMPLES / script, args, cwd=cwd, env=env, timeout=600)


def test_quickstart(tmp_path):
    out = _run("quickstart.py", [], tmp_path)
    assert out.count("max |difference|") == 4
    assert "nan" not in out.lower()


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        "curve_alignment.py",
        "derivative_observations.py",
        "question_model.py",
        "scipy_interpolant.py",
    ],
)
@pytest.mark.parametrize(
    "flags",
    [["--chain-method", "vectorized"], ["--chain-method", "sequential", "--x64"]],
)
def test_nuts_example(script, flags, tmp_path):
    out = _run(script, [*TINY, *flags], tmp_path)
    x64 = "--x64" in flags or os.environ.get("JAX_ENABLE_X64", "0").lower() in (
        "1",
        "true",
    )
    assert f"64-bit floats: {x64}" in out
    assert (tmp_path / script.replace(".py", ".png")).stat().st_size > 10_000
    summary = out[: out.index("sampling wall time")]
    assert "nan" not in summary.lower(), summary
    assert "all true values inside their 90% intervals" in out
