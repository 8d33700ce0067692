"""The protocol's shape: sections, fields, types, methods, options (no data needed)."""

from __future__ import annotations

import tomllib

import pytest

from cohortlab.exceptions import CohortError
from cohortlab.protocol.methods import METHODS, formula_columns
from cohortlab.protocol.schema import ProtocolError, parse_protocol, read_protocol

BASE = {
    "study": {"title": "t", "seed": 1},
    "data": {"dataset": "nhefs"},
    "exposure": {"column": "qsmk"},
    "outcomes": [{"name": "wt", "type": "continuous", "column": "wt82_71"},
                 {"name": "death", "type": "time_to_event", "time": "t", "event": "death"}],
    "covariates": ["age", "sex"],
    "analyses": [{"name": "crude", "method": "crude_effect", "outcomes": ["wt"]},
                 {"name": "ipw", "method": "ipw", "outcomes": ["wt"],
                  "options": {"variance": "robust"}}],
}


def with_(**changes):
    doc = {k: v for k, v in BASE.items()}
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def test_parses_a_valid_protocol():
    p = parse_protocol(BASE)
    assert p.study.seed == 1 and p.covariates == ("age", "sex")
    assert [a.method for a in p.analyses] == ["crude_effect", "ipw"]
    assert p.analyses[1].options == {"variance": "robust"}
    assert p.analyses[1].where == "analyses[1]"
    assert p.outputs.tables == ("csv", "md", "html") and p.outputs.report


def test_protocol_error_is_a_cohort_error_with_the_field():
    with pytest.raises(CohortError) as info:
        parse_protocol(with_(analyses=[{"name": "x", "method": "ipww"}]))
    assert isinstance(info.value, ValueError) and info.value.field == "analyses[0].method"


def test_unknown_section_suggests_close_matches():
    with pytest.raises(ProtocolError, match=r"^analysis: unknown section\. Did you mean "
                                            r"'analyses'\?"):
        parse_protocol({**BASE, "analysis": []})


@pytest.mark.parametrize("section", ["study", "data", "exposure"])
def test_required_sections(section):
    with pytest.raises(ProtocolError, match=rf"^{section}: section is required"):
        parse_protocol(with_(**{section: None}))


def test_unknown_field_suggests_close_matches():
    with pytest.raises(ProtocolError, match=r"^study\.titel: unknown field\. Did you mean "
                                            r"'title'\?"):
        parse_protocol(with_(study={"titel": "x"}))


def test_wrong_type_names_the_field():
    with pytest.raises(ProtocolError, match=r"^study\.seed: must be int; got '1'"):
        parse_protocol(with_(study={"title": "t", "seed": "1"}))


def test_data_needs_exactly_one_source():
    with pytest.raises(ProtocolError, match=r"^data: needs exactly one of path, dataset, "
                                            r"query; got \['path', 'dataset'\]"):
        parse_protocol(with_(data={"path": "a.csv", "dataset": "nhefs"}))


def test_unknown_dataset():
    with pytest.raises(ProtocolError, match=r"^data\.dataset: must be one of .*Did you mean "
                                            r"'nhefs'\?"):
        parse_protocol(with_(data={"dataset": "nhfes"}))


def test_n_only_with_simulated():
    with pytest.raises(ProtocolError, match=r"^data\.n: is only used with dataset = "
                                            r"\"simulated\""):
        parse_protocol(with_(data={"dataset": "nhefs", "n": 100}))


def test_unknown_method_suggests_close_matches():
    with pytest.raises(ProtocolError, match=r"^analyses\[0\]\.method: unknown method "
                                            r"'kaplan_meir'\. Did you mean 'kaplan_meier'\?"):
        parse_protocol(with_(analyses=[{"name": "km", "method": "kaplan_meir"}]))


def test_unknown_option_suggests_close_matches():
    doc = with_(analyses=[{"name": "ipw", "method": "ipw", "options": {"trunkate": [0, 1]}}])
    with pytest.raises(ProtocolError, match=r"^analyses\[0\]\.options\.trunkate: ipw\(\) has "
                                            r"no option 'trunkate'\. Did you mean 'truncate'"):
        parse_protocol(doc)


def test_option_filled_by_the_protocol_is_refused():
    doc = with_(analyses=[{"name": "ipw", "method": "ipw", "options": {"exposure": "x"}}])
    with pytest.raises(ProtocolError, match=r"^analyses\[0\]\.options\.exposure: is set by the "
                                            r"protocol for ipw\(\)\. Set it in \[exposure\]"):
        parse_protocol(doc)


def test_method_must_take_the_outcome_type():
    doc = with_(analyses=[{"name": "km", "method": "kaplan_meier", "outcomes": ["wt"]}])
    with pytest.raises(ProtocolError, match=r"^analyses\[0\]\.outcomes: method 'kaplan_meier' "
                                            r"does not take the continuous outcome 'wt'"):
        parse_protocol(doc)


def test_unknown_outcome_in_analysis():
    doc = with_(analyses=[{"name": "c", "method": "crude_effect", "outcomes": ["wt2"]}])
    with pytest.raises(ProtocolError, match=r"^analyses\[0\]\.outcomes: unknown outcome 'wt2'\."
                                            r" Did you mean 'wt'\?"):
        parse_protocol(doc)


def test_analyses_default_to_every_outcome():
    doc = with_(outcomes=[BASE["outcomes"][0]],
                analyses=[{"name": "c", "method": "crude_effect"}])
    assert parse_protocol(doc).analyses[0].outcomes == ("wt",)


def test_duplicate_analysis_names():
    doc = with_(analyses=[{"name": "c", "method": "crude_effect", "outcomes": ["wt"]}] * 2)
    with pytest.raises(ProtocolError, match=r"^analyses: names must be unique; got duplicates "
                                            r"\['c'\]"):
        parse_protocol(doc)


def test_competing_outcome_needs_a_cause():
    doc = with_(outcomes=[{"name": "s", "type": "competing", "event": "event"}])
    with pytest.raises(ProtocolError, match=r"^outcomes\[0\]\.cause: is required for type = "
                                            r"'competing'"):
        parse_protocol(doc)


def test_outcome_fields_must_fit_the_type():
    doc = with_(outcomes=[{"name": "s", "type": "binary", "column": "x", "event": "e"}])
    with pytest.raises(ProtocolError, match=r"^outcomes\[0\]\.event: is not used with type = "
                                            r"'binary'"):
        parse_protocol(doc)


@pytest.mark.parametrize("horizon", [0, -1.5])
def test_horizon_must_be_positive(horizon):
    doc = with_(followup={"time": "t", "horizon": horizon})
    with pytest.raises(ProtocolError, match=r"^followup\.horizon: must be positive"):
        parse_protocol(doc)


def test_followup_needs_time_or_both_dates():
    with pytest.raises(ProtocolError, match=r"^followup: needs either time, or both start and "
                                            r"end"):
        parse_protocol(with_(followup={"start": "d0"}))


def test_from_score_needs_one_rule():
    doc = with_(exposure={"from_score": {"score": "s", "threshold": 0.5, "quantiles": 4}})
    with pytest.raises(ProtocolError, match=r"^exposure\.from_score: needs exactly one of"):
        parse_protocol(doc)


def test_subgroups_must_name_an_effect_analysis():
    doc = with_(subgroups=[{"analysis": "ipww", "by": ["sex"]}])
    with pytest.raises(ProtocolError, match=r"^subgroups\[0\]\.analysis: unknown analysis "
                                            r"'ipww'\. Did you mean 'ipw'\?"):
        parse_protocol(doc)


def test_bias_analysis_rates_are_checked():
    doc = with_(sensitivity={"bias_analysis": {"analysis": "crude", "sensitivity": 1.5,
                                               "specificity": 0.9}})
    with pytest.raises(ProtocolError, match=r"^sensitivity\.bias_analysis\.sensitivity: must "
                                            r"be a rate in \(0, 1\]"):
        parse_protocol(doc)


def test_output_formats_are_checked():
    with pytest.raises(ProtocolError, match=r"^outputs\.tables\[1\]: must be one of .*Did you "
                                            r"mean 'docx'\?"):
        parse_protocol(with_(outputs={"tables": ["csv", "doc"]}))


def test_covariates_as_formula_table():
    p = parse_protocol(with_(covariates={"formula": "age + I(age**2)"}))
    assert p.covariates == "age + I(age**2)"


def test_missing_protocol_file(tmp_path):
    with pytest.raises(ProtocolError, match=r"protocol file not found\. Check the path, or "
                                            r"create one with `cohortlab init`"):
        read_protocol(tmp_path / "nope.toml")


def test_invalid_toml(write_protocol):
    path = write_protocol("[study\ntitle = 1")
    with pytest.raises(ProtocolError, match=r"is not valid TOML"):
        read_protocol(path)


def test_formula_columns_skips_functions_keywords_and_strings():
    assert formula_columns("age + I(age**2) + C(race, Treatment('b')) + bs(bmi, df=3) + "
                           "np.log(wt) + a:b") == ["age", "race", "bmi", "wt", "a", "b"]
    assert formula_columns(["x", "y", "x"]) == ["x", "y"]


def test_every_method_is_a_public_verb():
    import cohortlab as cl

    for name, spec in METHODS.items():
        assert getattr(cl, name) is spec.verb()
        assert set(spec.fills) <= set(spec.parameters())


def test_toml_examples_parse():
    from cohortlab.protocol.targettrial import parse_target_trial_protocol
    from cohortlab.protocol.template import EXAMPLES, template_text

    for text in [template_text()] + [template_text(e) for e in EXAMPLES]:
        raw = tomllib.loads(text)
        (parse_target_trial_protocol if "target_trial" in raw else parse_protocol)(raw)
