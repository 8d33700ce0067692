"""``strategy_curves``: IP-weighted Kaplan-Meier / Aalen-Johansen risks under always vs never."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._typing import RandomState
from .._validation import check_conf_level, check_int, check_truncate, verb, verb_name
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..results.curve import Curve
from ..results.estimate import EstimateTable
from ._contrasts import ContrastsView
from ._strategy_curves import (
    adherent_rows,
    risk_statistic,
    strategy_period_counts,
    strategy_risks,
)
from ._weights import Prepared, compute
from .msm import _events, _horizons
from .msm_result import STRATEGIES, CurveInfo, bootstrap_results
from .weights import CensorTiming, TimeVaryingWeights, TreatmentRows, finish, prepare

__all__ = ["StrategyCurvesResult", "strategy_curves"]

METHOD = "ipw_kaplan_meier"
METHOD_AJ = "ipw_aalen_johansen"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class StrategyCurvesResult(ContrastsView):
    """Inverse probability weighted risk curves under "always" and "never" treated.

    Attributes
    ----------
    risks : Curve
        Cumulative risk (incidence, with a competing event) of the outcome by the end of each
        period under each strategy (``group`` "always" / "never"; ``n_risk`` the
        person-periods following the strategy, ``n_censor`` those leaving it: deviation from
        the strategy or loss to follow-up).
    contrasts : EstimateTable
        The two risks, their difference and ratio at each horizon.
    by_period : pandas.DataFrame
        Per strategy and period: ``n_risk`` (person-periods following the strategy),
        ``weighted_n_risk``, ``n_event``, ``n_competing``, ``n_deviate`` (artificially
        censored at this period: treatment differs from the strategy) and ``ess`` (Kish
        effective size of the weights at risk).
    weights : TimeVaryingWeights
        The stabilised weights (of all person-periods) and their models.
    """

    risks: Curve
    contrasts: EstimateTable
    by_period: pd.DataFrame
    weights: TimeVaryingWeights
    notes: tuple[str, ...] = field(default=())

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        return self.contrasts._display_frame(digits)

    def _title(self) -> str:
        return "IP-weighted risk curves (artificial censoring) · always vs never treated"

    def _footer(self) -> list[str]:
        lines = self.contrasts._footer()
        return [*lines, *[n for n in self.notes if n not in lines]]


def _event_codes(prep: Prepared, outcome: str, competing: str | None,
                 w: np.ndarray) -> tuple[np.ndarray, int]:
    y, d, used, yrows = _events(prep, outcome, competing, w)
    code = np.where(yrows & (y == 1), 1, 0)
    if d is not None:
        code[used & (d == 1)] = 2
    return code, int(y[yrows].sum())


def _by_period(counts: list[dict[str, np.ndarray]], n_per: int, p0: int) -> pd.DataFrame:
    """The per-strategy, per-period counts of :func:`strategy_period_counts` as a frame."""
    return pd.concat([pd.DataFrame({"strategy": name, "period": np.arange(n_per) + p0, **c})
                      for (name, _), c in zip(STRATEGIES, counts, strict=True)],
                     ignore_index=True)


@verb
def strategy_curves(
    data: pd.DataFrame,
    *,
    id: str,
    period: str,
    treatment: str,
    outcome: str,
    covariates: str | Sequence[str],
    competing: str | None = None,
    censor: str | None = None,
    censor_covariates: str | Sequence[str] | None = None,
    period_terms: str | None = None,
    treatment_rows: TreatmentRows = "all",
    censor_timing: CensorTiming = "before_outcome",
    truncate: tuple[float, float] | None = None,
    horizons: Sequence[int] | None = None,
    n_boot: int = 200,
    n_jobs: int = 1,
    random_state: RandomState = None,
    conf_level: float = 0.95,
) -> StrategyCurvesResult:
    """Risk curves under "always" vs "never" treated: IP-weighted KM / Aalen-Johansen.

    Estimand: the cumulative risk of the outcome by the end of each period had everyone been
    treated in every period ("always") or in none ("never"), ``P(Y^{abar} by k)``, with
    their difference and ratio at ``horizons``. With ``competing`` the risks are cumulative
    incidences with the competing event kept (not censored): a total effect.

    Method (Hernán & Robins, *What If*, ch. 21 (artificial censoring); Cole & Hernán 2004).
    For each strategy every person is followed while their treatment agrees with it and
    artificially censored at the first period it does not (for "always" the first untreated
    period, for "never" the first treated one; that period's outcome is not used). The
    remaining person-periods ``(k, k + 1]`` are weighted by the stabilised inverse
    probability of remaining uncensored, which for a person who has followed the strategy
    so far is the stabilised treatment weight of :func:`tv_weights`, ``prod_{j<=k}
    P(A_j = a_j | A_{j-1}) / P(A_j = a_j | A_{j-1}, L_j)`` (numerator: previous treatment and
    ``period_terms`` only; baseline confounders belong in ``covariates``), times the
    censoring weights with ``censor``. The curve is the weighted Kaplan-Meier
    ``1 - prod_{j<=k} (1 - d_j / Y_j)`` (``Y_j``, ``d_j`` weighted person-periods at risk and
    events in period ``j``), or the weighted Aalen-Johansen cumulative incidence of the
    outcome with ``competing`` (within a period the competing event and the outcome are two
    causes of the same interval). Unlike :func:`msm` no outcome model is assumed: the curve
    is nonparametric given the weights.

    Identifying assumptions: sequential exchangeability of treatment given past treatment
    and ``covariates`` (and of censoring given ``censor_covariates``), positivity (persons
    follow each strategy at every period and covariate history), consistency and correctly
    specified treatment (and censoring) models.

    Variance: person-level bootstrap (``n_boot`` replicates): persons are resampled, the
    weight models re-fitted (and truncated at the same quantiles) and both curves
    recomputed in each replicate; percentile intervals; seeded, the same for any
    ``n_jobs``. Replicates in which no resampled person follows a strategy up to some
    period are counted as failed (``n_failed``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per person-period, sorted by ``id``, ``period`` (periods
        increase by 1 within person).
    id, period, treatment, outcome : str
        Person id; period; treatment (0/1) in that period; outcome (0/1 event at the end of
        that period; no rows after an event; NaN allowed on censored or competing rows).
    covariates : str or list of str
        Denominator covariates of the treatment (and censoring) models: time-varying and
        baseline confounders.
    competing : str, optional
        Column (0/1): competing event in that period (its row's outcome NaN or 0).
    censor, censor_covariates, period_terms, treatment_rows, censor_timing, truncate
        As in :func:`tv_weights`.
    horizons : list of int, optional
        Periods at which to report the contrasts; default the last period.
    n_boot, n_jobs, random_state : int, int, int or Generator
        Bootstrap replicates, parallel jobs, seed.
    conf_level : float
        Confidence level.

    Returns
    -------
    StrategyCurvesResult
        ``.risks`` (Curve), ``.contrasts`` (EstimateTable; ``.table``), ``.by_period``,
        ``.weights``.

    References
    ----------
    Cole SR, Hernán MA (2004). Adjusted survival curves with inverse probability weights.
    Comput Methods Programs Biomed 75:45-49. Hernán MA, Robins JM. Causal Inference: What
    If, ch. 21.

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=1_000, n_periods=4, random_state=1, n_truth=2_000)
    >>> res = cl.strategy_curves(df, id="id", period="period", treatment="A", outcome="Y",
    ...                          covariates="L + V", censor="C", competing="D", n_boot=20,
    ...                          random_state=1)
    >>> res.contrasts.to_frame()["term"].tolist()
    ['always', 'never', 'risk difference', 'risk ratio']
    >>> sorted(set(res.risks.to_frame()["group"]))
    ['always', 'never']
    """
    truncate = check_truncate(truncate)
    conf_level = check_conf_level(conf_level)
    check_int(n_boot, "n_boot", 2)
    extra = [outcome, *([competing] if competing else [])]
    prep = prepare(data, id=id, period=period, treatment=treatment, covariates=covariates,
                   numerator=None, period_terms=period_terms, censor=censor,
                   censor_covariates=censor_covariates, treatment_rows=treatment_rows,
                   censor_timing=censor_timing, extra_cols=extra)
    wres = finish(prep, compute(prep), truncate)
    w = wres.weights
    code, n_events = _event_codes(prep, outcome, competing, w)
    p0 = int(prep.period.min())
    n_per = int(prep.period.max()) - p0 + 1
    hz = _horizons(horizons, prep, n_per)
    k = (prep.period - p0).astype(np.int64)
    masks = [adherent_rows(prep.a, prep.pos, v) for _, v in STRATEGIES]
    n_causes = 2 if competing else 1
    point, _ = strategy_risks(k, w, code, masks, n_per, n_causes)
    for s, (name, _) in enumerate(STRATEGIES):
        gap = np.flatnonzero(np.isnan(point[s * n_per:(s + 1) * n_per]))
        if gap.size:
            raise DataValidationError(
                f"{verb_name()}(): no uncensored person-period follows the strategy {name!r} "
                f"({treatment!r} = {int(STRATEGIES[s][1])} in every period so far) at period "
                f"{p0 + int(gap[0])}; the risk is not identified from there (positivity). "
                f"Restrict the data to periods before {p0 + int(gap[0])}.")
    by = _by_period(strategy_period_counts(prep.pos, k, w, code, masks, n_per), n_per, p0)
    stat = risk_statistic(prep, k, code, masks, n_per, n_causes, truncate, verb_name())
    boot = bootstrap(stat, k.size, n_boot=n_boot, random_state=random_state, n_jobs=n_jobs,
                     cluster=prep.codes)
    method = METHOD_AJ if competing else METHOD
    info = CurveInfo(
        periods=np.arange(n_per) + p0,
        n_risk=by["n_risk"].to_numpy().reshape(2, n_per),
        n_censor=by["n_deviate"].to_numpy().reshape(2, n_per),
        n_persons=prep.n_persons, n_events=n_events, conf_level=conf_level, method=method,
        title="IP-weighted risks (artificial censoring) · always vs never",
        curve_note=("time = period; risk by the end of that period; n_risk: person-periods "
                    "following the strategy; n_censor: deviating from it in that period"))
    curve, table = bootstrap_results(
        info, hz, point, boot.valid, boot.n_failed, True,
        what="weights re-estimated, artificial censoring and curves recomputed")
    notes = [f"weighted {'Aalen-Johansen' if competing else 'Kaplan-Meier'} on the "
             "person-periods following each strategy (artificially censored at the first "
             "deviation), stabilised IP weights of remaining uncensored",
             *(["competing event " + repr(competing) + " kept as a competing cause (not "
                "censored): cumulative incidences"] if competing else []),
             *wres.notes]
    return StrategyCurvesResult(risks=curve, contrasts=table, by_period=by, weights=wres,
                                notes=tuple(notes))
