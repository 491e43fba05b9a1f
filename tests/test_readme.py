"""The README's Python snippets run as written."""

import re
from pathlib import Path

import pytest
from helpers import run_python

ROOT = Path(__file__).resolve().parent.parent


def snippets():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_its_snippets():
    blocks = snippets()
    assert any("b_spline_basis(knots, 3, 1, x)" in b for b in blocks)
    assert any("MCMC(NUTS(model)" in b for b in blocks)


@pytest.mark.parametrize(
    "index", range(len(snippets())), ids=lambda i: snippets()[i].splitlines()[0]
)
def test_readme_snippet_runs(index, tmp_path):
    code = snippets()[index]
    if "MCMC(" in code:
        pytest.skip("the numpyro snippet runs in the slow test below")
    script = tmp_path / "snippet.py"
    script.write_text(code)
    run_python(script, [], cwd=tmp_path, timeout=300)


@pytest.mark.slow
def test_readme_numpyro_snippet_samples(tmp_path):
    (code,) = [b for b in snippets() if "MCMC(" in b]
    script = tmp_path / "snippet.py"
    script.write_text(code)
    out = run_python(script, [], cwd=tmp_path, timeout=600)
    assert "Number of divergences: 0" in out, out[-3000:]
    sigma = [line.split() for line in out.splitlines() if line.split()[:1] == ["sigma"]]
    assert sigma and 0.08 < float(sigma[0][1]) < 0.25, out[-3000:]
