"""Reference risks for cl.gformula_tv from pygformula on its own bundled example data.

Run (outside CI, in a separate venv):

    python3 -m venv /work/venvs/pygformula
    /work/venvs/pygformula/bin/pip install pygformula==1.2.0
    /work/venvs/pygformula/bin/python tests/reference/gformula_tv/run_pygformula.py

Data: ``basicdata.csv`` is pygformula's ``datasets/example_data_basicdata.csv`` (the file
``pygformula.data.load_basicdata()`` downloads; 2,500 persons, periods 0..6, binary L1,
continuous L2, baseline L3, treatment A, competing event D, outcome Y), copied verbatim from
github.com/CausalInference/pygformula at commit e043c9e.

The g-formula is run under the natural course, "never treat" and "always treat" with
n_simul = number of persons (pygformula then simulates every observed person once, no
resampling) and N_SEEDS different simulation seeds, so that the Monte Carlo standard deviation
of one run can be measured. expected.json holds the mean over seeds and the SD across seeds
of the risk at every period, the model coefficients (deterministic MLE fits), the residual
RMSE of the normal covariate and its simulation bounds, and pygformula's observed
(nonparametric) risk at every period.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pygformula
from pygformula import ParametricGformula
from pygformula.interventions import static

HERE = Path(__file__).resolve().parent
N_SEEDS = 10

COVNAMES = ["L1", "L2", "A"]
COVTYPES = ["binary", "normal", "binary"]
COVMODELS = [
    "L1 ~ lag1_A + lag2_A + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "L2 ~ lag1_A + L1 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "A ~ lag1_A + L1 + L2 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
]
YMODEL = "Y ~ A + L1 + L2 + L3 + lag1_A + lag1_L1 + lag1_L2"
DMODEL = "D ~ A + L1 + L2 + L3 + t0"


def run(obs: pd.DataFrame, seed: int) -> ParametricGformula:
    time_points = int(obs["t0"].max()) + 1
    g = ParametricGformula(
        obs_data=obs.copy(), id="id", time_name="t0", time_points=time_points,
        int_descript=["Never treat", "Always treat"],
        Intervention1_A=[static, np.zeros(time_points)],
        Intervention2_A=[static, np.ones(time_points)],
        basecovs=["L3"], covnames=COVNAMES, covtypes=COVTYPES, covmodels=COVMODELS,
        compevent_name="D", compevent_model=DMODEL,
        outcome_name="Y", outcome_type="survival", ymodel=YMODEL,
        seed=seed, model_fits=True,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        g.fit()
    return g


def main() -> None:
    obs = pd.read_csv(HERE / "basicdata.csv")
    risks: dict[str, list[list[float]]] = {}
    seconds = []
    first = None
    for s in range(N_SEEDS):
        t0 = time.perf_counter()
        g = run(obs, seed=1000 + s)
        seconds.append(time.perf_counter() - t0)
        first = first or g
        for name, res in zip(g.int_descript, g.g_results, strict=True):
            risks.setdefault(name, []).append([float(x) for x in res])
    g = first
    sd = g.summary_dict
    coefs = {k: {n: float(v) for n, v in params.items()} for k, params in sd["model_coeffs"].items()}
    rmses, bounds = sd["rmses"], sd["bounds"]
    out = {
        "source": "pygformula " + pygformula.__version__ if hasattr(pygformula, "__version__")
        else "pygformula 1.2.0",
        "data": "basicdata.csv (pygformula datasets/example_data_basicdata.csv)",
        "n_simul": int(g.n_simul),
        "seeds": [1000 + s for s in range(N_SEEDS)],
        "time_points": int(g.time_points),
        "models": {"covnames": COVNAMES, "covtypes": COVTYPES, "covmodels": COVMODELS,
                   "ymodel": YMODEL, "compevent_model": DMODEL, "basecovs": ["L3"],
                   "sim_trunc": True, "baselags": False, "compevent_cens": False},
        "risk_mean": {k: np.mean(v, axis=0).tolist() for k, v in risks.items()},
        "risk_sd": {k: np.std(v, axis=0, ddof=1).tolist() for k, v in risks.items()},
        "risk_runs": risks,
        "coefficients": coefs,
        "rmse": {k: float(v) for k, v in rmses.items()},
        "bounds": {k: [float(b) for b in v] for k, v in bounds.items() if k == "L2"},
        "observed_risk": [float(x) for x in np.asarray(sd["obs_plot"]["risk"]).ravel()],
        "seconds_per_fit": float(np.mean(seconds)),
    }
    (HERE / "expected.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("risk_mean", "risk_sd", "seconds_per_fit")}, indent=1))


if __name__ == "__main__":
    main()
