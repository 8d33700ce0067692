"""Package hygiene: light imports, the demo study end to end, the public namespace."""

from __future__ import annotations

import subprocess
import sys

import cohortlab as cl
from cohortlab import demo


def test_import_is_light():
    """`import cohortlab` must not import dowhy, econml, statsmodels or matplotlib."""
    code = ("import sys, cohortlab; heavy = [m for m in ('dowhy', 'econml', 'statsmodels', "
            "'matplotlib', 'sksurv', 'lifelines') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_demo_writes_report(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "demo"), "--n-boot", "50"]) == 0
    out = tmp_path / "demo"
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "table1.md", "table1.csv", "effects.csv", "love_plot.png",
            "overlap.png", "forest.png", "attrition.csv", "survival.csv",
            "km_by_qsmk.png"} <= names
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Table 1 by qsmk" in html
    assert "2.541" in html  # crude difference in mean weight change, What If ch. 12
    assert "3.441" in html  # IPW ATE, What If Program 12.2
    assert "3.457" in html  # AIPW, nhefs_aipw_tmle.json
    assert "IPTW Cox hazard ratio" in html and "1.001" in html  # R coxph(weights, robust)
    assert f"open {(out / 'report.html').resolve()}" in capsys.readouterr().out


def test_all_names_resolve():
    for name in cl.__all__:
        assert getattr(cl, name) is not None, name
