"""``impute``: multiple imputation of missing covariates by chained equations (MICE).

The public verb validates the frame, encodes the variables, runs ``m`` independent chains
through joblib (one spawned seed each, so the numbers do not depend on ``n_jobs``; see
:mod:`cohortlab.missing._mice` for the methods) and returns an :class:`ImputedData`, which
keeps the original frame and only the imputed values (``m`` values per missing cell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._typing import RandomState
from .._validation import check_columns, check_int, suggest, verb, verb_name
from ..exceptions import DataValidationError
from ..inference.bootstrap import seed_batches, seed_sequence
from ._mice import VarSpec, run_batch
from .imputed import ImputedData

__all__ = ["impute", "ImputedData", "ImputeMethod"]

ImputeMethod: TypeAlias = Literal["pmm", "norm", "logreg", "polyreg"]
#: Levels above which a string/categorical predictor is refused (an identifier, free text).
MAX_LEVELS = 50
_KIND = {"num": "numeric", "bin": "binary", "cat": "categorical"}


# ------------------------------------------------------------------------- encoding


@dataclass
class _Column:
    name: str
    kind: str  # num, bin, cat
    values: np.ndarray  # float (num) or int codes (bin/cat); junk at missing rows
    missing: np.ndarray  # bool
    levels: list  # labels for bin/cat (code order); [] for num


def _encode(frame: pd.DataFrame, name: str, role: str) -> _Column:
    s = frame[name]
    miss = s.isna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or \
            pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [c for c in s.cat.categories if (s == c).any()]
            if len(levels) < len(s.cat.categories):
                levels = list(s.cat.categories)
        else:
            try:
                levels = sorted(s.dropna().unique().tolist())
            except TypeError:
                levels = list(pd.unique(s.dropna()))
        if len(levels) > MAX_LEVELS:
            raise DataValidationError(
                f"{verb_name()}(): column {name!r} ({role}) has {len(levels):,} distinct values; "
                "at "
                f"most {MAX_LEVELS} levels are used in an imputation model. Leave it out "
                "(predictors=, columns=) if it is an identifier or free text."
            )
        codes = pd.Categorical(s, categories=levels).codes.astype(np.int64)
        codes[miss] = 0
        kind = "bin" if len(levels) <= 2 else "cat"
        return _Column(name, kind, codes, miss, levels)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise DataValidationError(
            f"{verb_name()}(): column {name!r} ({role}) has dtype {s.dtype}; imputation models "
            "take "
            "numeric, boolean, string or categorical columns. Convert it (e.g. dates to "
            "days since baseline) or leave it out (predictors=, columns=)."
        )
    x = s.to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(x)):
        raise DataValidationError(
            f"{verb_name()}(): column {name!r} ({role}) has {int(np.isinf(x).sum()):,} infinite "
            "values. Replace them (e.g. with NaN, to be imputed)."
        )
    obs = np.unique(x[~miss])
    if obs.size <= 2 and np.all(np.isin(obs, [0.0, 1.0])):
        codes = np.where(miss, 0, x).astype(np.int64)
        return _Column(name, "bin", codes, miss, [0, 1] if obs.size else [0, 1])
    return _Column(name, "num", np.where(miss, np.nan, x), miss, [])


def _default_method(col: _Column) -> str:
    return {"num": "pmm", "bin": "logreg", "cat": "polyreg"}[col.kind]


def _as_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise DataValidationError(
            f"{verb_name()}(): {name} must be a column name or a list of column names; got "
            f"{value!r}."
        )
    return list(dict.fromkeys(value))


# ------------------------------------------------------------------------- public verb


@verb
def impute(
    data: pd.DataFrame,
    *,
    m: int = 20,
    columns: Sequence[str] | None = None,
    method: str | Mapping[str, str] | None = None,
    predictors: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
    exclude: Sequence[str] | None = None,
    n_iter: int = 10,
    donors: int = 5,
    random_state: RandomState = None,
    n_jobs: int = 1,
    missing_indicator: bool = False,
) -> ImputedData:
    """Multiple imputation of missing values by chained equations (MICE, fully conditional).

    Each column with missing values is imputed in turn from a regression on the other
    variables, cycling ``n_iter`` times, in ``m`` independent chains (van Buuren &
    Groothuis-Oudshoorn 2011, *J Stat Softw* 45(3); the algorithm of R's ``mice``). The
    default method per column: predictive mean matching (``"pmm"``, type-1 matching among
    ``donors`` nearest observed predictions, as ``mice.impute.pmm``) for numeric columns,
    logistic regression (``"logreg"``) for binary ones and multinomial logistic regression
    (``"polyreg"``) for unordered categorical ones (ordered categoricals too: no
    proportional-odds model), each with its coefficients drawn from their (approximate)
    posterior, so the imputations are *proper* and Rubin's rules
    (:func:`with_imputations`) give valid variances. ``"norm"`` (Bayesian linear regression
    draws) is also available for numeric columns.

    The analysis outcome belongs in every imputation model (Moons et al. 2006): pass
    ``outcome=`` for a binary or continuous one (used as a predictor of every imputed
    column), or ``time=`` and ``event=`` for a survival outcome, which enters as the event
    indicator (one per cause if ``event`` has codes > 1) and the Nelson-Aalen cumulative
    hazard at the subject's exit time, ``H(T)``, instead of ``T`` itself (White & Royston
    2009, *Stat Med* 28:1982). The outcome columns must be complete.

    Assumption: the data are missing at random given the predictors.

    Parameters
    ----------
    data : pandas.DataFrame
        The cohort; it is not modified.
    m : int
        Number of imputations (default 20; White, Royston & Wood 2011 suggest at least the
        percentage of incomplete rows).
    columns : list of str, optional
        Columns to impute; default every column with missing values (except ``exclude``).
    method : str or dict, optional
        ``"pmm"``, ``"norm"``, ``"logreg"`` or ``"polyreg"`` for every imputed column, or a
        dict ``{column: method}``; default per column as above.
    predictors : list of str or dict, optional
        The predictors of every imputation model (a list) or per imputed column (a dict);
        default every other column (except ``exclude`` and ``time``). Imputed columns used
        as predictors enter with their current imputations. The outcome terms are always
        added.
    outcome, time, event : str, optional
        The analysis outcome (see above).
    exclude : list of str, optional
        Columns that are neither imputed nor used as predictors (identifiers, dates, text).
    n_iter : int
        Iterations of the chained equations per chain (default 10).
    donors : int
        Donors per missing value in predictive mean matching (default 5, as mice).
    random_state : int or numpy.random.Generator, optional
        Seed; the same seed gives the same imputations whatever ``n_jobs``.
    n_jobs : int
        Chains run in parallel through joblib.
    missing_indicator : bool
        Add a 0/1 column ``<column>_missing`` to every completed data set.

    Returns
    -------
    ImputedData
        The original frame and the ``m`` imputed values of each missing cell:
        ``complete(i)``, ``datasets()``, ``n_missing``, ``trace()`` / ``plot_trace()``,
        ``table1()``; pass it to :func:`with_imputations` to run an estimator on each
        completed data set and pool the results by Rubin's rules.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs()[["qsmk", "sex", "age", "wt71", "smokeintensity",
    ...                                "wt82_71"]]
    >>> imp = cl.impute(d, m=5, outcome="qsmk", n_iter=5, random_state=1)
    >>> imp.n_missing.to_dict()
    {'wt82_71': 63}
    >>> imp.complete(1)["wt82_71"].isna().sum()
    np.int64(0)
    """
    m = check_int(m, "m", 1)
    n_iter = check_int(n_iter, "n_iter", 1)
    donors = check_int(donors, "donors", 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise DataValidationError(f"{verb_name()}(): n_jobs must be a non-zero integer; got "
                                  f"{n_jobs!r}.")
    if data.columns.duplicated().any():
        dup = data.columns[data.columns.duplicated()].tolist()
        raise DataValidationError(
            f"{verb_name()}(): duplicated column names {dup}; rename them before imputing."
        )
    check_columns(data, outcome=outcome, time=time, event=event,
                  exclude=list(exclude) if exclude is not None else None)
    if (time is None) != (event is None):
        raise DataValidationError(
            f"{verb_name()}(): a survival outcome needs both time= and event=; got time={time!r}, "
            f"event={event!r}."
        )
    excluded = set(_as_list(exclude, "exclude")) if exclude is not None else set()
    outcome_cols = [c for c in (outcome, time, event) if c]
    for c in outcome_cols:
        k = int(data[c].isna().sum())
        if k:
            raise DataValidationError(
                f"{verb_name()}(): the outcome column {c!r} has {k:,} missing values; the outcome "
                "terms of the imputation models must be complete. Impute it as a column "
                "(columns=[...]) without outcome=/time=/event=, or restrict the cohort."
            )
    # which columns to impute
    if columns is None:
        targets = [c for c in data.columns if data[c].isna().any() and c not in excluded
                   and c not in outcome_cols]
    else:
        targets = _as_list(columns, "columns")
        check_columns(data, columns=targets)
        clash = [c for c in targets if c in outcome_cols or c in excluded]
        if clash:
            raise DataValidationError(
                f"{verb_name()}(): columns {clash} are outcome or excluded columns and cannot be "
                "imputed. Remove them from columns=."
            )
    # methods
    methods_in: dict[str, str] = {}
    if isinstance(method, str):
        methods_in = {c: method for c in targets}
    elif isinstance(method, Mapping):
        check_columns(data, method=list(method))
        methods_in = dict(method)
    elif method is not None:
        raise DataValidationError(
            f"{verb_name()}(): method must be a method name or a dict {{column: method}}; got "
            f"{method!r}."
        )
    allowed = get_args(ImputeMethod)
    for c, meth in methods_in.items():
        if meth not in allowed:
            raise DataValidationError(
                f"{verb_name()}(): method for {c!r} must be one of {list(allowed)}; got {meth!r}."
            )
    # predictors
    base = [c for c in data.columns if c not in excluded and c not in outcome_cols]
    pred_map: dict[str, list[str]] = {}
    if predictors is None:
        pred_map = {t: [c for c in base if c != t] for t in targets}
    elif isinstance(predictors, Mapping):
        for t in predictors:
            if t not in targets:
                raise DataValidationError(
                    f"{verb_name()}(): predictors names {t!r}, which is not imputed. "
                    f"{suggest(t, targets, 'Imputed columns:')}"
                )
        for t in targets:
            lst = _as_list(predictors.get(t, [c for c in base if c != t]), "predictors")
            check_columns(data, predictors=lst)
            pred_map[t] = [c for c in lst if c != t and c not in outcome_cols]
    else:
        lst = _as_list(predictors, "predictors")
        check_columns(data, predictors=lst)
        pred_map = {t: [c for c in lst if c != t and c not in outcome_cols] for t in targets}
    used = list(dict.fromkeys([*targets, *(c for t in targets for c in pred_map[t])]))
    incomplete = [c for c in used if c not in targets and data[c].isna().any()]
    if incomplete:
        counts = ", ".join(f"{c} ({int(data[c].isna().sum()):,})" for c in incomplete)
        raise DataValidationError(
            f"{verb_name()}(): predictors with missing values that are not imputed: {counts}. Add "
            "them to columns= or leave them out of predictors=."
        )
    encoded = {c: _encode(data, c, "imputed" if c in targets else "predictor") for c in used}
    notes: list[str] = []
    for t in targets:
        col = encoded[t]
        n_obs = int((~col.missing).sum())
        if n_obs < 2:
            raise DataValidationError(
                f"{verb_name()}(): column {t!r} has {n_obs} observed values; at least 2 are needed "
                "to impute it. Drop the column or leave it out (exclude=)."
            )
        if col.kind != "num" and len(np.unique(col.values[~col.missing])) < 2:
            raise DataValidationError(
                f"{verb_name()}(): column {t!r} has a single observed level "
                f"({col.levels[int(col.values[~col.missing][0])]!r}); it cannot be modelled. "
                "Fill it by hand or leave it out (exclude=)."
            )
        meth = methods_in.get(t, _default_method(col))
        ok = {"num": ("pmm", "norm"), "bin": ("logreg", "pmm"), "cat": ("polyreg",)}[col.kind]
        if meth not in ok:
            raise DataValidationError(
                f"{verb_name()}(): method {meth!r} does not fit column {t!r} ({_KIND[col.kind]}); "
                f"use one of {list(ok)}."
            )
        methods_in[t] = meth
        if isinstance(data[t].dtype, pd.CategoricalDtype) and data[t].cat.ordered:
            notes.append(f"{t!r} is an ordered categorical; imputed by multinomial logistic "
                         "regression (polyreg), ignoring the order")
    # the outcome terms
    n = len(data)
    extra_blocks: list[tuple[str, np.ndarray]] = []
    if outcome:
        oc = _encode(data, outcome, "outcome")
        if oc.kind == "cat":
            for j in range(1, len(oc.levels)):
                extra_blocks.append((f"{outcome}=={oc.levels[j]}", (oc.values == j) * 1.0))
        else:
            extra_blocks.append((outcome, oc.values.astype(float)))
    if time:
        from .._validation import check_time_event
        from ..exposures._imputation import nelson_aalen_at_exit

        t_arr, e_arr = check_time_event(data, time, event,  # type: ignore[arg-type]
                                        competing=True)
        e_arr = np.asarray(e_arr, dtype=np.int64)
        causes = [int(c) for c in np.unique(e_arr) if c > 0]
        if len(causes) <= 1:
            extra_blocks.append((str(event), (e_arr > 0) * 1.0))
        else:
            extra_blocks += [(f"{event}=={c}", (e_arr == c) * 1.0) for c in causes]
        extra_blocks.append((f"H({time})", nelson_aalen_at_exit(t_arr, e_arr)))
    # the working matrix
    variables: list[VarSpec] = []
    index_of: dict[str, int] = {}
    cols_z: list[np.ndarray] = []
    p = 0
    for c in used:
        col = encoded[c]
        if col.kind == "num":
            obs = col.values[~col.missing]
            center = float(obs.mean())
            scale = float(obs.std()) or 1.0
            z = np.where(col.missing, 0.0, (col.values - center) / scale)
            cols_z.append(z[:, None])
            ncol = 1
        else:
            center, scale = 0.0, 1.0
            k = max(len(col.levels), 2)
            block = (col.values[:, None] == np.arange(1, k)[None, :]) * 1.0
            block[col.missing] = 0.0
            cols_z.append(block)
            ncol = k - 1
        index_of[c] = len(variables)
        variables.append(VarSpec(
            name=c, kind=col.kind, cols=tuple(range(p, p + ncol)), values=col.values,
            mis=np.flatnonzero(col.missing) if c in targets else np.empty(0, np.int64),
            method=methods_in.get(c) if c in targets else None, predictors=(),
            n_levels=max(len(col.levels), 2), center=center, scale=scale))
        p += ncol
    for name, arr in extra_blocks:
        index_of[name] = len(variables)
        sd = float(arr.std()) or 1.0
        cols_z.append(((arr - arr.mean()) / sd)[:, None])
        variables.append(VarSpec(name=name, kind="num", cols=(p,), values=arr,
                                 mis=np.empty(0, np.int64), method=None, predictors=()))
        p += 1
    Z0 = np.hstack(cols_z) if cols_z else np.empty((n, 0))
    extra_idx = tuple(index_of[nm] for nm, _ in extra_blocks)
    final_preds: dict[str, tuple[str, ...]] = {}
    target_idx = []
    for t in targets:
        idx = index_of[t]
        preds = tuple(index_of[c] for c in pred_map[t]) + extra_idx
        v = variables[idx]
        variables[idx] = VarSpec(
            name=v.name, kind=v.kind, cols=v.cols, values=v.values, mis=v.mis,
            method=v.method, predictors=preds, n_levels=v.n_levels, center=v.center,
            scale=v.scale)
        final_preds[t] = tuple(variables[j].name for j in preds)
        target_idx.append(idx)
    targets_run = [i for i in target_idx if variables[i].mis.size > 0]
    seeds = seed_sequence(random_state, verb_name()).spawn(m)
    if targets_run:
        batches = seed_batches(seeds, n_jobs)
        out = Parallel(n_jobs=n_jobs)(
            delayed(run_batch)(b, Z0, variables, targets_run, n_iter, donors, verb_name())
            for b in batches)
        chains = [r for batch in out for r in batch]
    else:
        chains = []
    imputations: dict[str, np.ndarray] = {}
    missing_rows: dict[str, np.ndarray] = {}
    tm = np.full((m, n_iter, len(targets)), np.nan)
    ts = np.full((m, n_iter, len(targets)), np.nan)
    for j, t in enumerate(targets):
        col, idx = encoded[t], index_of[t]
        missing_rows[t] = variables[idx].mis
        if idx not in targets_run:
            imputations[t] = np.empty((m, 0))
            continue
        r = targets_run.index(idx)
        vals = np.vstack([ch.imputed[r] for ch in chains])
        if col.kind != "num":
            labels = np.empty(len(col.levels), dtype=object)
            labels[:] = col.levels
            vals = labels[vals] if _is_labelled(data[t]) else np.asarray(col.levels)[vals]
        imputations[t] = vals
        tm[:, :, j] = np.stack([ch.trace_mean[:, r] for ch in chains])
        ts[:, :, j] = np.stack([ch.trace_sd[:, r] for ch in chains])
    unconv = sum(ch.n_unconverged for ch in chains)
    if unconv:
        notes.append(f"{unconv:,} multinomial imputation fits reached the iteration limit; "
                     "their last coefficients were used (check plot_trace())")
    if time:
        notes.append(f"survival outcome enters every model as {event!r} and the Nelson-Aalen "
                     f"cumulative hazard H({time}) (White & Royston 2009)")
    if outcome:
        notes.append(f"outcome {outcome!r} enters every imputation model")
    seed_txt = random_state if not isinstance(random_state, np.random.Generator) else "Generator"
    return ImputedData(
        data=data.copy(), imputations=imputations, missing_rows=missing_rows, m=m,
        methods={t: methods_in[t] for t in targets}, predictors=final_preds,
        trace_mean=tm, trace_sd=ts, n_iter=n_iter, donors=donors,
        missing_indicator=bool(missing_indicator), random_state=seed_txt, notes=tuple(notes))


def _is_labelled(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
