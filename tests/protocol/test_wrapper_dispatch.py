"""Corrections in a protocol (issue 13): no estimator options, the wrappers explicitly.

On main the verbs' ``__signature__`` listed ``exposure_validation`` / ``exposure_error`` /
``outcome_validation``, so an analysis' ``options`` accepted them and the verb returned a
correction table in place of its own result. Now they are refused with the way to the
wrapper, and ``[sensitivity.bias_analysis]`` is run by ``cl.bias_analysis``.
"""

from __future__ import annotations

import pytest

from cohortlab.protocol.schema import ProtocolError, parse_protocol

BASE = {
    "study": {"title": "t", "seed": 1},
    "data": {"dataset": "nhefs"},
    "exposure": {"column": "qsmk"},
    "outcomes": [{"name": "wt", "type": "continuous", "column": "wt82_71"}],
    "covariates": ["age", "sex"],
}


@pytest.mark.parametrize(("key", "value", "fix"), [
    ("exposure_validation", "qsmk_true", r"cl\.correct_exposure\(estimator, data, validation="),
    ("exposure_error", 0.9, r"\[sensitivity\.bias_analysis\]"),
    ("outcome_validation", "wt_true", r"cl\.ppi_effect\(cl\.ipw, data, outcome_validation="),
])
def test_correction_options_are_refused_with_the_wrapper(key, value, fix):
    doc = dict(BASE, analyses=[{"name": "ipw", "method": "ipw", "outcomes": ["wt"],
                                "options": {key: value}}])
    with pytest.raises(ProtocolError, match=rf"^analyses\[0\]\.options\.{key}: ipw\(\) has no "
                                            rf"option '{key}': corrections wrap the estimator\. .*"
                                            rf"{fix}"):
        parse_protocol(doc)
