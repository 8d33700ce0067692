"""Write data.csv: the fixed long-format dataset of the MSM reference (R and cohortlab).

Run from the repository root: ``python tests/reference/msm/make_data.py``. 500 persons, up to
8 periods, treatment-confounder feedback, censoring (a censored row's Y is NA); the DGP is
``tests/test_msm_dgp.py``. ``cum_A`` (cumulative number of treated periods through the row's
period) is written so that the R script need not compute it.
"""

import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parents[1]))

from test_msm_dgp import simulate_msm_data  # noqa: E402

df = simulate_msm_data(n=500, n_periods=8, seed=2026)
df["cum_A"] = df.groupby("id")["A"].cumsum()
df.to_csv(here / "data.csv", index=False, float_format="%.17g", na_rep="NA")
print(df.shape)

# a second dataset with a competing event: cohortlab's own simulate_longitudinal (Y and D
# are NA after censoring, Y is NA in a row with D = 1)
sys.path.insert(0, str(here.parents[2] / "src"))
from cohortlab import simulate_longitudinal  # noqa: E402

dc = simulate_longitudinal(n=600, n_periods=6, random_state=2026, n_truth=1_000)
dc = dc[["id", "period", "V", "L", "A", "C", "D", "Y"]].copy()
dc["cum_A"] = dc.groupby("id")["A"].cumsum()
dc.to_csv(here / "data_competing.csv", index=False, float_format="%.17g", na_rep="NA")
print(dc.shape)
