"""Reference values for cohortlab.sequential_trials from pySEQTarget on its bundled SEQdata.

Run (not in CI) with pySEQTarget 0.14.3 in a separate venv:
    python3 -m venv /work/venvs/trials && /work/venvs/trials/bin/pip install pySEQTarget
    /work/venvs/trials/bin/python tests/reference/trials/pyseqtarget_seqdata.py
SEQdata.csv is pySEQTarget's bundled SEQdata (pySEQTarget/data/SEQdata.csv of
github.com/CausalInference/pySEQTarget; the 0.14.3 wheel lacks it). Writes
pyseqtarget_seqdata.json: the outcome-model coefficients (term names and values) of the ITT
analysis (km_curves off, so no arm x follow-up interaction) and of the weighted "censoring"
(per-protocol) analysis with weights fitted before expansion (pySEQTarget's default) and
after expansion (cohortlab's convention), and the expanded-data sizes; for ITT also the
person-clustered CR0 sandwich SEs of the same model refitted with statsmodels on
pySEQTarget's expanded data.
"""

import json
import sys
from pathlib import Path

import polars as pl
import statsmodels.api as sm
import statsmodels.formula.api as smf
from pySEQTarget import SEQopts, SEQuential

HERE = Path(__file__).resolve().parent
data = pl.read_csv(HERE / "SEQdata.csv")
out = {"pySEQTarget": __import__("pySEQTarget").__version__ if hasattr(
    __import__("pySEQTarget"), "__version__") else "0.14.3", "python": sys.version}
for name, method, opts in [("itt", "ITT", SEQopts()),
                           ("per_protocol_pre", "censoring", SEQopts(weighted=True)),
                           ("per_protocol_post", "censoring",
                            SEQopts(weighted=True, weight_preexpansion=False))]:
    s = SEQuential(data, id_col="ID", time_col="time", eligible_col="eligible",
                   treatment_col="tx_init", outcome_col="outcome",
                   time_varying_cols=["N", "L", "P"], fixed_cols=["sex"], method=method,
                   parameters=opts)
    s.expand()
    n_expanded = s.DT.height if hasattr(s, "DT") else None
    s.fit()
    m = s.outcome_model[0]["outcome"]
    tab = m.summary2().tables[1]
    out[name] = {"terms": [str(t) for t in tab.index], "coef": tab["Coef."].tolist(),
                 "std_error_model": tab["Std.Err."].tolist(), "n_expanded": n_expanded,
                 "nobs": int(m.nobs), "formula": str(getattr(m.model, "formula", ""))}
    if name == "itt":
        # person-clustered sandwich without small-sample factor (CR0, as sandwich::vcovCL
        # type="HC0", cadjust=FALSE) of the same model refitted by statsmodels on
        # pySEQTarget's expanded data
        d = s.DT.to_pandas()
        rob = smf.glm("outcome ~ tx_init_bas + followup + followup_sq + trial + trial_sq + sex"
                      " + N_bas + L_bas + P_bas", d, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": d["ID"], "use_correction": False})
        out[name]["coef_statsmodels"] = rob.params.tolist()
        out[name]["std_error_cluster_cr0"] = rob.bse.tolist()
(HERE / "pyseqtarget_seqdata.json").write_text(json.dumps(out, indent=1))
print(json.dumps(out, indent=1))
