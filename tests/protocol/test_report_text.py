"""The protocol report a clinician reads: words, labels, E-values, warnings once (issue 12).

One small Rotterdam protocol (hormonal therapy and 5-year mortality: Kaplan-Meier, IPW
adjusted survival, Cox) is run once per module; the tests read its report.html and
report.docx. Everything above the "Technical appendix" heading is the clinician's text and
must hold no identifier, formula or code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortlab.protocol import run_protocol
from cohortlab.protocol.schema import ProtocolError, parse_protocol

ROTTERDAM = '''
[study]
title = "Hormonal therapy and 5-year mortality"
question = "What would 5-year mortality have been had all received hormonal therapy?"
seed = 5

[data]
dataset = "rotterdam"
id = "pid"

[followup]
time = "dtime"
unit = "days"
time_zero = "surgery"

[exposure]
column = "hormon"

[[outcomes]]
name = "death"
type = "time_to_event"
event = "death"

[covariates]
formula = "age + meno + C(size) + grade + nodes + pgr + er + chemo"

[labels]
report_time_unit = "years"
contrast = "hormonal therapy vs none"

[labels.variables]
age = "Age, years"
meno = "Postmenopausal"
size = "Tumour size, mm"
grade = "Tumour grade"
nodes = "Positive lymph nodes"
pgr = "Progesterone receptor, fmol/l"
er = "Oestrogen receptor, fmol/l"
chemo = "Chemotherapy"

[labels.exposure]
column = "hormon"
label = "Hormonal therapy"
arms = { 0 = "No hormonal therapy", 1 = "Hormonal therapy" }

[labels.outcomes]
death = "Death from any cause"

[labels.analyses]
km = "Kaplan-Meier (unadjusted)"
ipw = "Inverse probability weighting"
cox = "Cox regression (adjusted)"

[[analyses]]
name = "km"
method = "kaplan_meier"
at = [1826]

[[analyses]]
name = "ipw"
method = "adjusted_survival"
estimand = "ATE"
at = [1826]
options = { method = "ipw" }

[[analyses]]
name = "cox"
method = "cox"

[sensitivity]
evalue = true

[outputs]
tables = ["csv", "docx"]
figures = ["png"]
report = true
'''

#: Strings that must not reach the clinician's text (the technical appendix excepted).
IDENTIFIERS = ("infinitesimal_jackknife", "sandwich_mestimation", "C(", "I(", "[T.",
               "smd_unweighted", "np.", "ipw_km", "wald_model", "lr_df", "iterations", "None",
               "nan", "std_error", "conf_low")


@pytest.fixture(scope="module")
def rotterdam_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rotterdam")
    (folder / "study.toml").write_text(ROTTERDAM, encoding="utf-8")
    return run_protocol(folder / "study.toml", folder / "out", quiet=True)


def _html_text(path: Path) -> str:
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<img[^>]*>", " ", page)
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    import html

    return re.sub(r"\s+", " ", html.unescape(page))


def _clinical(text: str) -> str:
    assert "Technical appendix" in text
    return text.split("Technical appendix")[0]


def _docx_text(path: Path) -> str:
    from docx import Document

    doc = Document(str(path))
    parts = []
    for block in doc.element.body.iterchildren():
        parts.append(" ".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
    return re.sub(r"\s+", " ", " ".join(parts))


# ----------------------------------------------------------------------------- the HTML
def test_clinical_text_has_no_identifiers(rotterdam_run: Path) -> None:
    text = _clinical(_html_text(rotterdam_run / "report.html"))
    found = [s for s in IDENTIFIERS if s in text]
    assert not found, found
    # the identifiers are kept, in the technical appendix
    full = _html_text(rotterdam_run / "report.html")
    # (adjusted_survival's ipw curves: the estimated-propensity-score variance by default)
    assert "sandwich_mestimation" in full.split("Technical appendix")[1]
    assert "C(size)" in full.split("Technical appendix")[1]


def test_labels_directions_and_units(rotterdam_run: Path) -> None:
    text = _clinical(_html_text(rotterdam_run / "report.html"))
    assert "Risk difference at 5 years, hormonal therapy vs none" in text
    assert "Risk ratio at 5 years, hormonal therapy vs none" in text
    assert "Hazard ratio, hormonal therapy vs none" in text
    assert "robust (sandwich) variance, propensity model accounted for" in text
    assert "No hormonal therapy" in text and "Tumour size, mm" in text
    assert "Tumour size: >50" in text  # C(size)[T.>50] in words
    assert "at 1826" not in text


def test_evalues_shown_with_a_sentence_each(rotterdam_run: Path) -> None:
    text = _clinical(_html_text(rotterdam_run / "report.html"))
    ev = pd.read_csv(rotterdam_run / "tables" / "evalues.csv")
    shown = ev.loc[ev["effect_measure"].isin(["risk_ratio", "hazard_ratio"])]
    assert len(shown) == 2
    for e in shown["evalue"]:
        assert f"{e:.2f}" in text  # the table
        assert f"risk ratio of {e:.1f} each could explain away the estimate" in text
    assert text.count("could explain away the estimate") == len(shown)


def test_each_warning_once(rotterdam_run: Path) -> None:
    text = _clinical(_html_text(rotterdam_run / "report.html"))
    notes = pd.read_csv(rotterdam_run / "tables" / "notes.csv")
    warn = [n for n in notes["note"] if "Warning:" in n]
    assert warn, "the protocol raises a positivity warning"
    core = re.sub(r"^\w+Warning: (\w+\(\): )?", "", warn[0])[:60]
    assert text.count(core) == 1
    # and notes.csv itself lists each note once per analysis
    strip = notes["note"].str.replace(r"^\w+Warning: (\w+\(\): )?", "", regex=True)
    assert not pd.DataFrame({"a": notes["analysis"], "n": strip}).duplicated().any()


def test_ph_table_has_chi_square_df_p(rotterdam_run: Path) -> None:
    text = _clinical(_html_text(rotterdam_run / "report.html"))
    ph = pd.read_csv(rotterdam_run / "tables" / "cox__death__ph.csv")
    assert "Term Chi-square df p-value" in text
    glob = ph.loc[ph["term"] == "GLOBAL"].iloc[0]
    assert f"Global test {glob['statistic']:.2f} {len(ph) - 1}" in text
    table = text.split("proportional hazards tests")[1].split("Score tests")[0]
    assert "CI" not in table and "no interval" not in table


def test_strobe_checklist_and_anchors(rotterdam_run: Path) -> None:
    page = (rotterdam_run / "report.html").read_text(encoding="utf-8")
    assert 'id="table-2"' in page and 'id="technical-appendix"' in page
    text = _html_text(rotterdam_run / "report.html")
    assert "STROBE checklist for cohort studies" in text
    assert "16 Main results Table 2" in text and "22 Funding not reported" in text


def test_risk_contrasts_match_survival_contrasts(rotterdam_run: Path) -> None:
    t2 = pd.read_csv(rotterdam_run / "tables" / "table2.csv")
    ipw = t2.loc[t2["analysis"] == "ipw"].set_index("effect_measure")
    assert np.isclose(ipw.loc["risk_difference", "estimate"], -ipw.loc["difference",
                                                                      "estimate"])
    assert np.isclose(ipw.loc["risk_difference", "std_error"], ipw.loc["difference",
                                                                      "std_error"])
    curves = pd.read_csv(rotterdam_run / "tables" / "ipw__death.csv")
    s0, s1 = curves["estimate"].to_numpy()
    assert np.isclose(ipw.loc["risk_ratio", "estimate"], (1 - s1) / (1 - s0))


def test_provenance_keeps_the_technical_notes(rotterdam_run: Path) -> None:
    prov = json.loads((rotterdam_run / "provenance.json").read_text(encoding="utf-8"))
    notes = " ".join(n["note"] for n in prov["technical_notes"])
    assert "C(size)" in notes and "lr_df" in notes


# ----------------------------------------------------------------------------- the docx
def test_docx_clinical_text(rotterdam_run: Path) -> None:
    text = _docx_text(rotterdam_run / "report.docx")
    clinical = _clinical(text)
    assert not [s for s in IDENTIFIERS if s in clinical]
    assert "Risk difference at 5 years, hormonal therapy vs none" in clinical
    assert "could explain away the estimate" in clinical


# ----------------------------------------------------------------------------- [labels]
def _doc(**labels: object) -> dict:
    return {"study": {"title": "t"}, "data": {"dataset": "rotterdam"},
            "exposure": {"column": "hormon"},
            "outcomes": [{"name": "death", "type": "binary", "column": "death"}],
            "analyses": [{"name": "crude", "method": "crude_effect"}], "labels": labels}


def test_labels_section_is_checked() -> None:
    p = parse_protocol(_doc(variables={"age": "Age"}, analyses={"crude": "Crude"}))
    assert p.labels.labels.variable("age") == "Age" and p.labels.analysis("crude") == "Crude"
    with pytest.raises(ProtocolError, match="labels"):
        parse_protocol(_doc(variabels={"age": "Age"}))
    with pytest.raises(ProtocolError, match="labels.analyses"):
        parse_protocol(_doc(analyses={"crude": 3}))
    with pytest.raises(ProtocolError, match="labels"):
        parse_protocol(_doc(report_time_unit="fortnights"))


def test_rotterdam_and_gbsg_are_protocol_datasets() -> None:
    for name in ("rotterdam", "gbsg"):
        doc = _doc()
        doc["data"] = {"dataset": name}
        assert parse_protocol(doc).data.dataset == name


# ----------------------------------------------------------------------------- rendering
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("soffice") is None
                    or shutil.which("pdftoppm") is None,
                    reason="needs chromium, LibreOffice (soffice) and pdftoppm")
def test_report_renders(rotterdam_run: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={png}", "--window-size=1200,4000",
                    (rotterdam_run / "report.html").as_uri()], check=True, timeout=300,
                   capture_output=True)
    assert png.stat().st_size > 10_000
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir",
                    str(tmp_path), str(rotterdam_run / "report.docx")], check=True,
                   timeout=300, capture_output=True)
    pdf = tmp_path / "report.pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=300, capture_output=True)
    assert len(list(tmp_path.glob("page*.png"))) >= 3


def test_bundled_dataset_labels_are_the_default(tmp_path: Path) -> None:
    from cohortlab.protocol._reporttext import contrast_label, study_labels

    text = ROTTERDAM.split("[labels]")[0] + "[[analyses]]" + ROTTERDAM.split("[[analyses]]", 1)[1]
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    from cohortlab.protocol.schema import read_protocol

    lab = study_labels(read_protocol(tmp_path / "s.toml"))
    assert lab.time_unit == "days" and lab.report_unit == "years"
    assert contrast_label("risk difference at 1826", "risk_difference", lab) == \
        "Risk difference at 5 years, Hormonal therapy vs No hormonal therapy"
    assert lab.variable("nodes") == "Positive lymph nodes"


# ----------------------------------------------------------------------------- bundled
#: Raw codes and identifiers a clinician must not read: ``hormon = 1``, ``qsmk=1``,
#: snake_case names, long floats, None/nan (file names under tables/ excepted).
RAW = re.compile(r"\b[a-z_]{2,} = \d|\b[a-z]+=\d|\b[a-z]+_[a-z0-9_]+\b|\d\.\d{7,}"
                 r"|\bNone\b|\bnan\b")


@pytest.fixture(scope="module")
def bundled_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from importlib.resources import files

    out = {}
    for name in ("nhefs", "wearable", "rotterdam"):
        folder = tmp_path_factory.mktemp(name)
        src = files("cohortlab.protocol") / "examples" / f"{name}.toml"
        (folder / "study.toml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        out[name] = run_protocol(folder / "study.toml", folder / "out", quiet=True)
    return out


@pytest.mark.parametrize("name", ["nhefs", "wearable", "rotterdam"])
def test_bundled_reports_have_no_identifiers(bundled_runs: dict[str, Path], name: str
                                             ) -> None:
    folder = bundled_runs[name]
    texts = {"html": _clinical(_html_text(folder / "report.html"))}
    if (folder / "report.docx").exists():
        texts["docx"] = _clinical(_docx_text(folder / "report.docx"))
    for kind, text in texts.items():
        text = re.sub(r"tables/\S+\.csv", "", text)
        found = [s for s in IDENTIFIERS if s in text] + [m.group(0) for m in RAW.finditer(text)]
        assert not found, (kind, found)


def test_bundled_subgroups_and_exposure_in_words(bundled_runs: dict[str, Path]) -> None:
    nhefs = _clinical(_html_text(bundled_runs["nhefs"] / "report.html"))
    assert "Subgroups: Inverse probability weighting: weight change 1971-1982, kg, by sex" \
        in nhefs
    assert " Male " in nhefs and " Female " in nhefs  # the subgroup levels, not 0 and 1
    wearable = _clinical(_html_text(bundled_runs["wearable"] / "report.html"))
    assert "Exposure groups: " in wearable and "af_score" not in wearable
    assert "Corrected for misclassification" in wearable and "Censored at" in wearable
    rotterdam = _clinical(_html_text(bundled_runs["rotterdam"] / "report.html"))
    assert "Positive lymph nodes" in rotterdam and "log(Progesterone receptor + 1)" in rotterdam
    # the exposure in words, never as a column test (the wording helper is tested in
    # tests/report/test_report_content.py on a warning that names the arms)
    assert "'hormon'" not in rotterdam and "hormon = 1" not in rotterdam
    assert "Hormonal therapy" in rotterdam


def test_rotterdam_aipw_curves_bounded(bundled_runs: dict[str, Path]) -> None:
    frame = pd.read_csv(bundled_runs["rotterdam"] / "tables" / "aipw__death.csv")
    values = frame[["estimate", "conf_low", "conf_high"]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    assert len(values) and ((values >= 0) & (values <= 1)).all()
