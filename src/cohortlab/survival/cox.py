"""``cl.cox()``: the Cox proportional hazards model, exact as R's ``coxph``, at scale."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._design import Design, build_design, covariate_columns, numeric_design
from .._typing import CIMethod, ConfType
from .._validation import (
    apply_missing,
    check_columns,
    check_numeric,
    check_option,
    check_time_event,
    check_weights,
    verb,
    verb_name,
)
from ..causal._propensity import PropensityScore
from ..exceptions import ConvergenceError, DataValidationError, MonotoneLikelihoodWarning
from ..results.model import ModelResult
from ..results.testresult import TestResult, TestTable
from . import _cox
from ._cox import CoxData, CoxFit
from ._cox_stats import (
    CONCORDANCE_MAX_N,
    concordance_of,
    fit_stats,
    row_weights,
    zph_chisq,
    zph_times,
)
from ._prepare import positive_weight_counts
from ._psvar import CoxVariance, cluster_codes, ps_weights, resolve_variance, stacked_model_vcov

__all__ = ["cox", "CoxResult"]

Ties = Literal["efron", "breslow"]
Transform = Literal["km", "identity", "rank", "log"]


@dataclass(frozen=True)
class _CoxState:
    """What a fitted model keeps to test proportional hazards and predict (not rendered)."""

    cd: CoxData
    fit: CoxFit
    efron: bool
    design: Design
    strata_col: str | None
    strata_levels: tuple[Any, ...]
    time: np.ndarray
    status: np.ndarray
    entry: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CoxResult(ModelResult):
    """A fitted Cox model: a :class:`ModelResult` with PH checks and predicted curves.

    ``to_frame()`` gives hazard ratios (``exponentiate=False``: the
    log-hazard coefficients); ``std_error`` is always on the log scale.
    """

    state: _CoxState | None = field(default=None, repr=False)

    def check_proportional_hazards(self, transform: Transform = "km") -> TestTable:
        """Score tests of proportional hazards per term and globally (R ``cox.zph``, survival >= 3).

        For each covariate the test adds ``beta_k * g(t)`` to the model and computes the score
        test of its coefficient at the fitted ``beta`` with the full information matrix (not
        the Grambsch-Therneau approximation of survival < 3 and lifelines). ``g`` is
        ``1 - KM(t-)`` of the pooled data (``"km"``, R's default), ``t`` (``"identity"``), the
        rank of the event times (``"rank"``) or ``log t``. The global test adds all terms at
        once. Returns a :class:`~cohortlab.TestTable`, one chi-square row per term plus
        ``GLOBAL``.
        """
        check_option(transform, Transform, "transform", "check_proportional_hazards")
        st = self._state()
        g = zph_times(st.cd, st.time, st.status, st.entry, transform)
        u, full = _cox.zph_test(st.cd, st.fit.beta, st.efron, g)
        p = len(self.terms)
        rows = []
        blocks = [(t, [i]) for i, t in enumerate(self.terms)] + [("GLOBAL", list(range(p)))]
        for term, idx in blocks:
            k = len(idx)
            stat = zph_chisq(u, full, idx)
            rows.append(TestResult(
                term=term, statistic=stat, df=k, p_value=float(stats.chi2.sf(stat, k)),
                method="cox_zph", n=self.n, n_events=self.n_events,
                labels={"transform": transform},
            ))
        return TestTable(rows=tuple(rows), title=f"Proportional hazards tests ({transform})",
                             notes=("Score test of beta*g(t) per term and globally, at the "
                                    "fitted coefficients (R survival >= 3 cox.zph).",))

    def predict_survival(
        self, newdata: pd.DataFrame, conf_type: Literal["log", "log-log", "plain"] = "log",
    ) -> Any:
        """Predicted survival curves for the rows of ``newdata`` (R ``survfit(fit, newdata)``).

        The baseline cumulative hazard is Efron's (or Breslow's) estimator; the SE of the
        cumulative hazard adds the coefficient uncertainty (Tsiatis' variance, as R). One curve
        per row of ``newdata``, labelled by its index. Returns a :class:`~cohortlab.Curve`.
        """
        from ._predict import predict_survival

        check_option(conf_type, ConfType, "conf_type", "predict_survival")
        _check_newdata(newdata, "predict_survival")
        return predict_survival(self, newdata, conf_type)

    def predict_lp(self, newdata: pd.DataFrame, *, centered: bool = False) -> np.ndarray:
        """The linear predictor ``x'beta`` of each row of ``newdata``, in its order.

        ``centered=True`` subtracts the fit's (weighted) covariate means first, as R's
        ``predict(fit, type = "lp")`` does for continuous covariates (R survival >= 3 does not
        centre 0/1 covariates, so R's values may differ from ours by a constant).
        """
        from ._predict import linear_predictor

        _check_newdata(newdata, "predict_lp")
        return linear_predictor(self, newdata, centered)

    def predict_risk(self, newdata: pd.DataFrame, times: Sequence[float] | float) -> pd.DataFrame:
        """Predicted risk ``1 - S(t | x)`` for each row of ``newdata`` at each of ``times``.

        Rows keep ``newdata``'s index and order; one column per time. The baseline hazard is
        the one of :meth:`predict_survival` (Efron or Breslow), without the CI.

        Examples
        --------
        >>> import cohortlab as cl
        >>> lung = cl.datasets.load_lung()
        >>> fit = cl.cox(lung, time="time", event="dead", covariates=["age", "sex"])
        >>> fit.predict_risk(lung.head(2), [365.0]).round(3)
           365.0
        0  0.731
        1  0.695
        """
        from ._predict import predict_risk

        _check_newdata(newdata, "predict_risk")
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
            raise DataValidationError(
                f"predict_risk(): times must be finite non-negative numbers; got {times!r}.")
        risk = predict_risk(self, newdata, t)
        return pd.DataFrame(risk, index=newdata.index, columns=t)

    def concordance(self) -> float:
        """Harrell's C of the linear predictor, R ``concordance()``'s conventions.

        Ties in the predictor count 1/2, tied event times are not comparable, pairs are formed
        within strata and carry the product of the case weights.
        """
        st = self._state()
        w = row_weights(st.cd)
        return concordance_of(st.cd, st.fit.beta, w, st.time, st.status, st.design.X,
                              st.entry)

    def _state(self) -> _CoxState:
        if self.state is None:
            raise DataValidationError("CoxResult has no fitted state (built by hand?); refit "
                                      "with cl.cox().")
        return self.state


@verb
def cox(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    covariates: str | Sequence[str],
    strata: str | None = None,
    weights: str | PropensityScore | None = None,
    entry: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    ties: Ties = "efron",
    conf_level: float = 0.95,
    missing: str = "raise",
    max_iter: int = 30,
    variance: CoxVariance | None = None,
) -> CoxResult:
    """Fit a Cox proportional hazards model.

    Estimand: the conditional log hazard ratios ``beta`` in ``h(t | x) = h0(t) exp(x'beta)``
    (within strata: ``h0s(t)``), a weighted population's when case weights are given.
    Assumptions: proportional hazards (check with :meth:`CoxResult.check_proportional_hazards`),
    log-linear covariate effects, independent censoring (and independent left truncation given
    ``entry``) conditional on the covariates.

    Estimation maximises the partial likelihood (Efron or Breslow ties) by Newton-Raphson with
    step halving and R's convergence rule; the risk sets are built once by sorting and
    cumulative sums, so a million rows take seconds. Variance: the inverse information
    (``ci_method="wald_model"``), or with ``robust=True`` / ``cluster`` the dfbeta sandwich
    ``sum_i (w_i L_i V)(w_i L_i V)'`` of R's ``coxph(robust=TRUE)`` (score residuals summed
    within clusters, no small-sample factor), computed in O(n log n). With case weights such
    as inverse probability weights use ``robust=True`` (the model SE treats the weights as
    frequencies), or better pass the :class:`~cohortlab.PropensityScore` itself (below).

    With ``weights=<PropensityScore>`` (from :func:`cohortlab.propensity_score`, logistic
    model) the weights are that result's balancing weights (times its sampling weights), and
    the default variance is ``variance="mestimation"``: the sandwich of the Cox score stacked
    with the logistic score equations of the propensity model, so the SE accounts for the
    estimated propensity score (Shu, Young, Toh & Wang 2021). It is the default because the
    weights-known sandwich (``variance="robust"``) is conservative for the ATE hazard ratio
    (SE about 1.15 x the empirical SD in simulations) and can be too small for ATT/ATO
    weights. The correction is ``V L' G IF_alpha``: the score residuals ``L`` (the derivative
    of the Cox score in each weight), the weights' gradient ``G`` in the logistic coefficients
    and their influence values, one extra pass over the rows. Trimming bounds and truncation
    points are treated as fixed; stabilised weights add the marginal exposure probability to
    the stack.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (or per ``(entry, exit]`` interval with ``entry``).
    time, event : str
        Exit time (> entry) and event indicator (0 censored, 1 event). Negative times raise;
        rows with time 0 warn (``ZeroTimeWarning``) and are kept, as in R.
    covariates : list of str or str
        Column names or a formula right-hand side (``"age + C(stage)"``); factors get a
        reference level. A constant or collinear covariate raises, naming it.
    strata : str, optional
        A column whose levels each get their own baseline hazard (R ``strata()``).
    weights : str or PropensityScore, optional
        Case weights, e.g. inverse probability weights; use with ``robust=True``. Or a
        :class:`~cohortlab.PropensityScore` fitted on the same rows (matched by index): its
        weights are used and the variance can account for their estimation.
    entry : str, optional
        Delayed-entry (left-truncation) time: a row is at risk on ``(entry, time]`` (R
        ``Surv(entry, time, event)``).
    robust, cluster : bool, str
        The dfbeta sandwich variance of R's ``coxph(robust=TRUE)``, summed within ``cluster``
        when given (no small-sample factor, as R).
    ties : {"efron", "breslow"}
        ``"efron"`` (R's default) or ``"breslow"`` (with Breslow ties integer weights equal
        replicated rows; with Efron they do not, in R as here).
    variance : {"model", "robust", "mestimation"}, optional
        ``"model"`` inverse information; ``"robust"`` the dfbeta sandwich (weights known, as
        ``robust=True``); ``"mestimation"`` the stacked sandwich with the propensity model
        (only with ``weights=<PropensityScore>``, and its default). Default: ``"mestimation"``
        with a logistic PropensityScore, else ``"robust"`` when ``robust``/``cluster`` are set
        or the PropensityScore came from a machine-learning model, else ``"model"``.

    Returns
    -------
    CoxResult
        Hazard ratios with CIs (``to_frame()``), ``fit_stats`` with the likelihood-ratio, Wald
        and score tests, the log-likelihoods and Harrell's concordance.

    Examples
    --------
    >>> import cohortlab as cl
    >>> lung = cl.datasets.load_lung()
    >>> fit = cl.cox(lung, time="time", event="dead", covariates=["age", "sex"])
    >>> fit.to_frame()[["term", "estimate", "conf_low", "conf_high"]].round(3)
      term  estimate  conf_low  conf_high
    0  age     1.017     0.999      1.036
    1  sex     0.599     0.431      0.831

    Inverse probability of treatment weights from a fitted propensity score, with the SE
    accounting for its estimation (the default) or treating the weights as known:

    >>> d = lung.dropna(subset=["ph.ecog"]).assign(female=lambda x: (x.sex == 2).astype(int))
    >>> ps = cl.propensity_score(d, exposure="female", covariates=["age", "ph.ecog"])
    >>> fit = cl.cox(d, time="time", event="dead", covariates=["female"], weights=ps)
    >>> known = cl.cox(d, time="time", event="dead", covariates=["female"], weights=ps,
    ...                variance="robust")
    >>> fit.ci_method, round(float(fit.params[0]), 4), round(float(fit.std_errors[0]), 4)
    ('sandwich_mestimation', -0.5037, 0.1578)
    >>> round(float(known.std_errors[0]), 4)
    0.1637
    """
    data, weights, nuis = ps_weights(data, weights, verb_name())
    variance = resolve_variance(variance, robust, cluster, nuis, verb_name())
    robust = robust or variance == "robust"
    cols = covariate_columns(covariates, data, verb_name())
    extra = [c for c in (strata, weights, entry, cluster) if c]
    check_columns(data, time=time, event=event, strata=strata, weights=weights,
                  entry=entry, cluster=cluster)
    frame, dropped = apply_missing(data, [time, event, *cols, *extra], missing)
    t, d = check_time_event(frame, time, event, entry=entry)
    s = check_numeric(frame, entry, "entry") if entry else None
    w = check_weights(frame, weights) if weights else np.ones(len(frame))
    n_pos, n_events, zero = positive_weight_counts(w if weights else None, weights, d == 1)
    if zero:  # weight-0 rows add nothing to the partial likelihood (and 0/0 to Efron's terms)
        keep = w > 0
        frame, t, d, w = frame[keep], t[keep], d[keep], w[keep]
        s = s[keep] if s is not None else None
    if not (d == 1).any():
        raise DataValidationError(f"{verb_name()}(): column {event!r} has no events (all 0); a Cox "
                                  "model needs at least one event.")
    design = (numeric_design(frame, covariates, drop_intercept=True)
              or build_design(frame, covariates, verb_name(), drop_intercept=True))
    codes, levels = (None, ())
    if strata:
        codes, uniq = pd.factorize(frame[strata], sort=True)
        levels = tuple(uniq)
    cd = _cox.prepare(design.X, t, d, w, entry=s, strata=codes)
    efron = ties == "efron"
    fit = _cox.fit_cox(cd, efron, max_iter=max_iter)
    if not np.all(np.isfinite(fit.beta)):
        raise ConvergenceError(f"{verb_name()}(): the fit diverged (non-finite coefficients). "
                               "Check "
                               "for covariates that separate events from non-events.")
    notes = _monotone_notes(fit, design.names, cols)
    if not fit.converged and not fit.infinite.any():
        raise ConvergenceError(
            f"{verb_name()}(): no convergence in {max_iter} Newton-Raphson iterations. Rescale the "
            "covariates, or raise max_iter.")
    vcov_model = fit.vcov
    vcov = vcov_model
    ci_method: CIMethod = "wald_model"
    cl_ids = frame[cluster].to_numpy() if cluster else None
    if variance == "mestimation" and nuis is not None:
        resid = _cox.score_residuals(cd, fit.beta, efron)
        vcov, _ = stacked_model_vcov(resid, w, fit.vcov, nuis.positions(frame.index, verb_name()),
                                     nuis, cluster_codes(nuis, cluster, verb_name()))
        ci_method = "sandwich_mestimation"
        notes += ("variance: stacked M-estimation sandwich (Cox score + logistic propensity "
                  "score equations), accounting for the estimated propensity score",)
    elif robust or cluster:
        vcov, _ = _cox.robust_vcov(cd, fit.beta, fit.vcov, efron, cluster=cl_ids, weights=w)
        ci_method = "wald_cluster" if cluster else "wald_sandwich"
    fstats = fit_stats(cd, fit, vcov, efron, variance != "model", cl_ids, w, t, d, design.X, s)
    state = _CoxState(cd=cd, fit=fit, efron=efron, design=design, strata_col=strata,
                      strata_levels=levels, time=t, status=d, entry=s)
    if "concordance" not in fstats:
        notes += (f"concordance not computed at n > {CONCORDANCE_MAX_N:,}; call "
                  ".concordance()",)
    return CoxResult(
        terms=design.names, params=fit.beta, vcov=vcov, vcov_model=vcov_model,
        effect_measure="hazard_ratio", method="cox", ci_method=ci_method,
        conf_level=conf_level, n=n_pos, n_events=n_events, fit_stats=fstats,
        dropped=dropped, notes=(f"ties: {ties}",) + (f"strata: {strata}",) * bool(strata)
        + notes + zero, state=state,
    )


def _monotone_notes(fit: CoxFit, names: Sequence[str], cols: Sequence[str]) -> tuple[str, ...]:
    bad = [n for n, inf in zip(names, fit.infinite, strict=True) if inf]
    if not bad:
        return ()
    msg = (f"{verb_name()}(): the partial likelihood is monotone in {bad} (the coefficient runs to "
           "+-infinity: a covariate level with all or none of the events). Its hazard ratio and "
           "SE are meaningless; merge sparse levels, drop the covariate, or use a penalised "
           "(Firth) model.")
    warnings.warn(msg, MonotoneLikelihoodWarning, stacklevel=3)
    return (msg.split("(): ", 1)[1],)


def _check_newdata(newdata: Any, func: str) -> None:
    if not isinstance(newdata, pd.DataFrame) or len(newdata) == 0:
        raise DataValidationError(
            f"{func}(): newdata must be a non-empty pandas DataFrame; got "
            f"{type(newdata).__name__} with {getattr(newdata, 'shape', None)}. Pass the rows "
            "to predict for, with the model's covariate columns.")
