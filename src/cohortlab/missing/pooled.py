"""``with_imputations``: run any estimator on each completed data set, pool by Rubin's rules.

The pooling is the project's: :func:`cohortlab.inference.rubin.pool_rubin` (R ``mice::pool``:
Barnard-Rubin degrees of freedom, ``riv``, ``fmi``) on the model scale (log for ratios), with
the result-to-rows conversion of :mod:`cohortlab._pooling`, shared with
:func:`cohortlab.correct_exposure` (so every parameter of an ``Estimate``, ``EstimateTable``,
``ModelResult`` or a curve at ``times=`` is pooled the same way there and here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal, TypeAlias

import numpy as np
from joblib import Parallel, delayed

from .._pooling import count_warnings, model_scale, result_rows, row_key, rubin_fields
from .._validation import verb, verb_name
from ..exceptions import CohortError, DataValidationError
from ..inference.bootstrap import seed_batches
from ..inference.rubin import pool_rubin
from ..results.estimate import Estimate, EstimateTable
from .impute import ImputedData

__all__ = ["with_imputations", "PSApproach"]

PSApproach: TypeAlias = Literal["within", "across"]
_ACROSS_PS = "__ps_across__"


class _FixedScores:
    """A scikit-learn style classifier that returns given propensity scores.

    The "across" approach (Mitra & Reiter 2016; MatchThem's ``approach = "across"``) passes
    the per-row scores averaged over the imputations to ``ipw``/``aipw`` through their
    ``model=``/``ps_model=`` argument; ``fit`` learns nothing, ``predict_proba`` returns the
    scores of the rows it is given (all rows of a completed data set, in order).
    """

    _estimator_type = "classifier"

    def __init__(self, scores: np.ndarray | None = None) -> None:
        self.scores = scores

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"scores": self.scores}

    def set_params(self, **params: Any) -> _FixedScores:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _FixedScores:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        e = np.asarray(self.scores, dtype=float)
        if len(X) != e.size:
            raise CohortError(
                f"{verb_name()}(): the across-imputation propensity scores have {e.size:,} rows "
                "but "
                f"the estimator asked for {len(X):,}; use ps='within' with this estimator."
            )
        return np.column_stack([1.0 - e, e])

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6 asks for tags in clone checks
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())


def _estimator_name(estimator: Callable[..., Any]) -> str:
    return getattr(estimator, "__name__", type(estimator).__name__)


def _one(estimator: Callable[..., Any], imputed: ImputedData, i: int, kwargs: dict[str, Any],
         times: Sequence[float] | None, across: np.ndarray | None
         ) -> tuple[np.ndarray, np.ndarray, list[str], list, dict[str, int], bool]:
    frame = imputed.complete(i)
    kw = dict(kwargs)
    if across is not None:
        name = _estimator_name(estimator)
        if name == "match":
            frame[_ACROSS_PS] = across
            kw["ps"] = _ACROSS_PS
            kw.pop("covariates", None)  # match takes scores or a model, not both
        elif name == "ipw":
            kw["model"] = _FixedScores(across)
        else:  # aipw
            kw["ps_model"] = _FixedScores(across)
    result, seen = count_warnings(lambda: estimator(frame, **kw))
    rows = _rows(result, times)
    theta, var = model_scale(rows)
    single = isinstance(result, Estimate) or isinstance(getattr(result, "estimate", None),
                                                        Estimate)
    return theta, var, [row_key(r) for r in rows], rows, seen, single


def _rows(result: Any, times: Sequence[float] | None) -> list[Estimate]:
    est = getattr(result, "estimate", None)
    if not isinstance(result, Estimate) and isinstance(est, Estimate):  # MatchResult
        return [est]
    if not isinstance(result, Estimate) and hasattr(result, "estimate") and est is None:
        raise DataValidationError(
            f"{verb_name()}(): the estimator returned a {type(result).__name__} without an effect "
            "estimate; pass outcome= so that there is something to pool."
        )
    try:
        return result_rows(result, times)
    except DataValidationError as exc:
        raise DataValidationError(str(exc).replace("correct_exposure", verb_name())) from None


def _batch(estimator: Callable[..., Any], imputed: ImputedData, idx: list[int],
           kwargs: dict[str, Any], times: Sequence[float] | None, across: np.ndarray | None
           ) -> list:
    return [_one(estimator, imputed, i, kwargs, times, across) for i in idx]


def _across_scores(imputed: ImputedData, kwargs: dict[str, Any], n_jobs: int) -> np.ndarray:
    from ..causal.propensity import propensity_score

    for key in ("exposure", "covariates"):
        if kwargs.get(key) is None:
            raise DataValidationError(
                f"{verb_name()}(): ps='across' fits the propensity model in each imputation and "
                "needs "
                f"the estimator's {key}=; got none."
            )
    ps_kw = {k: kwargs[k] for k in ("exposure", "covariates", "weights", "reference")
             if kwargs.get(k) is not None}

    def scores(i: int) -> np.ndarray:
        return propensity_score(imputed.complete(i), **ps_kw).scores.to_numpy()

    all_scores = Parallel(n_jobs=n_jobs)(delayed(scores)(i) for i in range(1, imputed.m + 1))
    return np.mean(np.vstack(all_scores), axis=0)


@verb
def with_imputations(
    estimator: Callable[..., Any],
    imputed: ImputedData,
    *,
    ps: PSApproach = "within",
    times: Sequence[float] | None = None,
    dfcom: float | None = None,
    n_jobs: int = 1,
    **kwargs: Any,
) -> Estimate | EstimateTable:
    """Run an estimator on each completed data set and pool the results by Rubin's rules.

    For each of the ``m`` completed data sets of ``imputed``, ``estimator(data, **kwargs)``
    is run; every parameter it reports is pooled (Rubin 1987): the mean of the estimates
    (on the log scale for ratios), total variance ``W + (1 + 1/m) B``, a t interval with the
    Barnard & Rubin (1999) degrees of freedom, and the fraction of missing information (as R
    ``mice::pool``; :func:`cohortlab.inference.rubin.pool_rubin`).

    Propensity score methods (Leyrat et al. 2019; R MatchThem):

    - ``ps="within"`` (default): the propensity model and the effect are estimated in each
      completed data set and the effects pooled; the recommended approach.
    - ``ps="across"``: the propensity score of each row is averaged over the ``m``
      imputations (logistic model on ``covariates``), then used in every completed data
      set; for :func:`~cohortlab.ipw`, :func:`~cohortlab.aipw` (as a fixed-score ``model`` /
      ``ps_model``, so their variance treats the scores as known) and
      :func:`~cohortlab.match` (as a ``ps`` column) only.

    Parameters
    ----------
    estimator : callable
        A cohortlab verb (``cl.ipw``, ``cl.cox``, ...) or any ``f(data, **kwargs)``
        returning an ``Estimate``, ``EstimateTable``, ``ModelResult``, ``MatchResult`` (with
        an outcome) or a curve (with ``times=``).
    imputed : ImputedData
        The result of :func:`impute`.
    ps : {"within", "across"}
        Propensity score approach (see above).
    times : list of float, optional
        Times at which curves are pooled (survival, cumulative incidence, contrasts).
    dfcom : float, optional
        Complete-data degrees of freedom; default ``n - (number of parameters)`` when the
        estimator reports ``n`` (as ``mice::pool`` uses ``df.residual``), else infinite.
    n_jobs : int
        Completed data sets analysed in parallel through joblib.
    **kwargs
        Passed to the estimator (``conf_level`` also sets the pooled intervals' level).

    Returns
    -------
    Estimate or EstimateTable
        The same family as the estimator's result (an ``EstimateTable`` for tables, models and
        curves), with ``ci_method="multiple_imputation_rubin"``; ``extra`` holds ``fmi``,
        ``riv``, ``df``, ``lambda`` and ``n_imputations``, and ``notes`` the fmi.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs()[["qsmk", "sex", "age", "wt71", "wt82_71"]]
    >>> imp = cl.impute(d, m=5, n_iter=5, random_state=1)
    >>> est = cl.with_imputations(cl.ipw, imp, exposure="qsmk", outcome="wt82_71",
    ...                           covariates=["sex", "age", "wt71"])
    >>> est.ci_method, bool(0 < est.extra["fmi"] < 1)
    ('multiple_imputation_rubin', True)
    """
    if not callable(estimator):
        raise DataValidationError(
            f"{verb_name()}(): the first argument must be an estimator (e.g. cl.ipw); got "
            f"{type(estimator).__name__}. Call with_imputations(cl.ipw, imputed, ...)."
        )
    if not isinstance(imputed, ImputedData):
        raise DataValidationError(
            f"{verb_name()}(): imputed must be the ImputedData of cl.impute(); got "
            f"{type(imputed).__name__}. Run imputed = cl.impute(data, ...) first."
        )
    if ps not in ("within", "across"):
        raise DataValidationError(
            f"{verb_name()}(): ps must be one of ['within', 'across']; got {ps!r}."
        )
    if imputed.m < 2:
        raise DataValidationError(
            f"{verb_name()}(): Rubin's rules need at least 2 imputations; got m = {imputed.m}. "
            "Impute with m >= 2 (default 20)."
        )
    if "data" in kwargs:
        raise DataValidationError(
            f"{verb_name()}(): data= is taken from the imputations; remove it from the arguments."
        )
    conf_level = float(kwargs.get("conf_level", 0.95))
    name = _estimator_name(estimator)
    across = None
    if ps == "across":
        if name not in ("ipw", "aipw", "match"):
            raise DataValidationError(
                f"{verb_name()}(): ps='across' works with cl.ipw, cl.aipw and cl.match; got "
                f"{name}. Use ps='within' (the default)."
            )
        clash = {"ipw": "model", "aipw": "ps_model", "match": "ps"}[name]
        if kwargs.get(clash) is not None:
            raise DataValidationError(
                f"{verb_name()}(): ps='across' supplies {name}'s {clash}=; got {clash}="
                f"{kwargs[clash]!r} as well. Remove it, or use ps='within'."
            )
        across = _across_scores(imputed, kwargs, n_jobs)
    idx = list(range(1, imputed.m + 1))
    batches = seed_batches(idx, n_jobs)
    out = Parallel(n_jobs=n_jobs)(
        delayed(_batch)(estimator, imputed, b, kwargs, times, across) for b in batches)
    runs = [r for b in out for r in b]
    return _pool(runs, name, ps, conf_level, dfcom, imputed.m, single=runs[0][5])


def _pool(runs: list, name: str, ps: str, conf_level: float, dfcom: float | None, m: int,
          single: bool) -> Estimate | EstimateTable:
    keys = runs[0][2]
    for k, run in enumerate(runs[1:], start=2):
        if run[2] != keys:
            raise CohortError(
                f"{verb_name()}(): imputation {k} gave different parameters than imputation 1; got "
                f"{run[2][:4]} vs {keys[:4]}. Every completed data set must give the same "
                "rows (e.g. every level of a categorical covariate present)."
            )
    theta = np.vstack([r[0] for r in runs])
    var = np.vstack([r[1] for r in runs])
    first: list[Estimate] = runs[0][3]
    ok = np.all(np.isfinite(theta) & np.isfinite(var), axis=0)
    if dfcom is None:
        n = first[0].n if first and first[0].n is not None else None
        dfc = float(n - len(first)) if n is not None and n > len(first) else math.inf
    else:
        dfc = float(dfcom)
    pooled = pool_rubin(theta[:, ok], var[:, ok], dfc) if ok.any() else None
    pos = np.cumsum(ok) - 1
    seen: dict[str, int] = {}
    for r in runs:
        for k, v in r[4].items():
            seen[k] = seen.get(k, 0) + v
    common_notes = (
        f"pooled over {m} imputations by Rubin's rules (t interval, Barnard-Rubin df"
        f"{'' if math.isinf(dfc) else f', dfcom = {dfc:g}'})"
        + ("; propensity scores averaged across imputations" if ps == "across" else ""),
        *(f"{v:,} of {m:,} imputed runs emitted {k}" for k, v in sorted(seen.items())),
    )
    rows: list[Estimate] = []
    for j, r in enumerate(first):
        if not ok[j] or pooled is None:
            rows.append(replace(
                r, **rubin_fields(r, pooled, None, conf_level)[0],
                ci_method="multiple_imputation_rubin", ci_scale="plain",
                conf_level=conf_level, influence=None, replicates=None, diagnostics=None,
                notes=(f"{row_key(r)}: not pooled (not estimable in some imputations)",
                       *common_notes),
                extra={"n_imputations": float(m)}))
            continue
        i = int(pos[j])
        est, st = rubin_fields(r, pooled, i, conf_level)
        fmi, riv, d = st["fmi"], st["riv"], st["df"]
        rows.append(replace(
            r, **est, conf_level=conf_level, ci_method="multiple_imputation_rubin",
            ci_scale="plain", influence=None, replicates=None, diagnostics=None,
            notes=(f"{row_key(r)}: fmi = {fmi:.3f}, riv = {riv:.3f}, df = {float(d):.1f}",
                   *common_notes) if len(first) > 1 else
                  (f"fraction of missing information fmi = {fmi:.3f} (riv = {riv:.3f}, "
                   f"df = {float(d):.1f})", *common_notes),
            extra={**{k: v for k, v in r.extra.items() if k not in ("fmi", "riv", "df")},
                   "fmi": fmi, "riv": riv, "df": float(d),
                   "lambda": float(pooled.lambda_[i]), "n_imputations": float(m)}))
    if single:
        return rows[0]
    title = f"{name} pooled over {m} imputations (Rubin's rules)"
    return EstimateTable(rows=tuple(rows), title=title)
