"""The imputation model of :func:`~cohortlab.exposures.measurement_error.correct_exposure`.

Which predictors enter it (the flag, the outcome terms, the covariates), the design matrix,
the logistic fit with its covariance, coefficient draws and Bernoulli imputations; and the
refit of inverse probability of treatment weights on each imputed exposure
(``refit_weights=``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .._design import build_design, covariate_columns
from .._validation import check_columns, verb_name
from ..exceptions import ConvergenceError, DataValidationError

_CUMHAZ = "cumulative hazard (Nelson-Aalen)"


# ------------------------------------------------------------------ array-only numbers


def nelson_aalen_at_exit(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Nelson-Aalen cumulative hazard of any event at each subject's own exit time.

    Examples
    --------
    >>> nelson_aalen_at_exit(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 1, 0, 1])).tolist()
    [0.25, 0.5833333333333333, 0.5833333333333333, 1.5833333333333333]
    """
    from ..survival._counts import risk_counts

    rc = risk_counts(time, (np.asarray(event) > 0).astype(np.int64), n_causes=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jumps = np.where(rc.n_risk > 0, rc.n_event_any / rc.n_risk, 0.0)
    cum = np.cumsum(jumps)
    return cum[np.searchsorted(rc.time, np.asarray(time, dtype=float))]


def _draw_coef(rng: np.random.Generator, coef: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """One draw from the coefficients' asymptotic normal distribution."""
    return rng.multivariate_normal(coef, vcov, method="cholesky")


def _impute_exposure(rng: np.random.Generator, X: np.ndarray, coef: np.ndarray,
                     validated: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Bernoulli draws of the true exposure; validated rows keep their true value."""
    p = expit(X @ coef)
    draw = (rng.random(p.size) < p).astype(np.int64)
    return np.where(validated, truth, draw)


def _fit_imputation(X: np.ndarray, y: np.ndarray, names: Sequence[str], max_iter: int = 50
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Logistic maximum likelihood by Newton-Raphson with step halving; coef and vcov.

    Step halving keeps the log-likelihood increasing: a strongly predictive flag (log odds
    ratio ~5) makes plain Newton overshoot from the null start. Unlike the package's
    propensity fits, a large coefficient alone is accepted (a flag that is almost never wrong
    in a small validation sample); fitted probabilities of 0 or 1 raise.
    """
    beta = np.zeros(X.shape[1])
    ll = _loglik(X, y, beta)
    done = False
    for _ in range(max_iter):
        mu = expit(X @ beta)
        xs = X * np.sqrt(mu * (1.0 - mu))[:, None]
        step = np.linalg.lstsq(xs.T @ xs, X.T @ (y - mu), rcond=None)[0]
        for _half in range(30):
            new = beta + step
            ll_new = _loglik(X, y, new)
            if ll_new >= ll - 1e-12:
                break
            step = step / 2.0
        beta, done = new, abs(ll_new - ll) < 1e-10 * (abs(ll) + 1e-10)
        ll = ll_new
        if done:
            break
    mu = expit(X @ beta)
    extreme = int(((mu < 1e-8) | (mu > 1 - 1e-8)).sum())
    if not done or extreme:
        j = int(np.argmax(np.abs(beta[1:]))) + 1 if beta.size > 1 else 0
        name = names[j] if j < len(names) else f"x{j}"
        raise ConvergenceError(
            f"{verb_name()}(): the imputation model did not converge ({extreme:,} fitted "
            f"probabilities of 0 or 1; largest coefficient {name} = {beta[j]:.3g}); "
            f"{name!r} (nearly) separates the validated true exposure. Validate more rows, "
            "or drop or coarsen that predictor (imputation_covariates)."
        )
    xs = X * np.sqrt(mu * (1.0 - mu))[:, None]
    vcov = np.linalg.inv(xs.T @ xs)
    return beta, (vcov + vcov.T) / 2.0


def _loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = X @ beta
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))



# ------------------------------------------------------------------ imputation design


@dataclass(frozen=True)
class _Spec:
    """What enters the imputation model."""

    formula_parts: tuple[str, ...]
    columns: tuple[str, ...]
    outcome: str | None
    time: str | None
    event: str | None
    competing: bool
    description: str


def _rhs(cov: Any) -> str:
    from .._design import _formula

    return _formula(cov, verb_name())


def _imputation_spec(data: pd.DataFrame, exposure: str, kwargs: Mapping[str, Any],
                     extra: Any) -> _Spec:
    parts, cols = [], []
    for key in ("covariates", "outcome_covariates", "propensity_covariates"):
        cov = kwargs.get(key)
        if cov is not None:
            cols += covariate_columns(cov, data, verb_name())
            parts.append(_rhs(cov))
    if extra is not None:
        cols += covariate_columns(extra, data, verb_name())
        parts.append(_rhs(extra))
    outcome = kwargs.get("outcome") if isinstance(kwargs.get("outcome"), str) else None
    time = kwargs.get("time") if isinstance(kwargs.get("time"), str) else None
    event = kwargs.get("event") if isinstance(kwargs.get("event"), str) else None
    if outcome:
        check_columns(data, outcome=outcome)
        cols.append(outcome)
    if time and event:
        check_columns(data, time=time, event=event)
        cols += [time, event]
    if not (outcome or (time and event)):
        raise DataValidationError(
            f"{verb_name()}(): the imputation model needs the outcome; got neither outcome= nor "
            "time= and event= among the estimator's arguments. Pass them as for the estimator."
        )
    competing = kwargs.get("cause") is not None
    if time and event and not competing:
        ev = pd.to_numeric(data[event], errors="coerce")
        competing = bool((ev > 1).any())
    outcome_txt = (outcome or f"event indicator{'s per cause' if competing else ''} of "
                   f"{event!r} + {_CUMHAZ} at {time!r}")
    desc = (f"logistic model of the true exposure on {exposure!r} + {outcome_txt}"
            + (f" + {' + '.join(parts)}" if parts else ""))
    cols = [c for c in dict.fromkeys(cols) if c != exposure]
    return _Spec(formula_parts=tuple(parts), columns=tuple(cols), outcome=outcome, time=time,
                 event=event, competing=competing, description=desc)


def _imputation_design(frame: pd.DataFrame, exposure: str, flag: np.ndarray, spec: _Spec,
                       interactions: bool) -> tuple[np.ndarray, list[str]]:
    """The imputation model's design: intercept, flag, covariate formula, outcome terms."""
    work = frame.copy(deep=False)
    work.attrs = {}
    work[exposure] = flag
    q = exposure if exposure.isidentifier() else f"`{exposure}`"
    design = build_design(work, " + ".join((q, *spec.formula_parts)), verb_name())
    X, names = [design.X], list(design.names)
    out_cols, out_names = _outcome_terms(frame, spec)
    if out_cols:
        X.append(np.column_stack(out_cols))
        names += out_names
        if interactions:
            X.append(np.column_stack([flag * c for c in out_cols]))
            names += [f"{exposure}:{n}" for n in out_names]
    return np.hstack(X), names


def _outcome_terms(frame: pd.DataFrame, spec: _Spec) -> tuple[list[np.ndarray], list[str]]:
    from .._validation import check_numeric, check_time_event

    if spec.outcome:
        return [check_numeric(frame, spec.outcome, "outcome")], [spec.outcome]
    t, e = check_time_event(frame, spec.time, spec.event,  # type: ignore[arg-type]
                            competing=spec.competing)
    e = np.asarray(e, dtype=np.int64)
    if spec.competing:
        causes = [int(c) for c in np.unique(e) if c > 0]
        cols = [(e == c).astype(float) for c in causes]
        names = [f"{spec.event}=={c}" for c in causes]
    else:
        cols, names = [(e > 0).astype(float)], [str(spec.event)]
    cols.append(nelson_aalen_at_exit(t, e))
    names.append(f"cumhaz({spec.time})")
    return cols, names




# ------------------------------------------------ weights that depend on the exposure

#: propensity_score() options that ``refit_weights=`` may carry in a mapping.
REFIT_KEYS = ("covariates", "estimand", "stabilize", "trim", "truncate", "model")
#: The column that holds refitted weights when the call named none.
REFIT_COLUMN = "_cl_refit_iptw"


@dataclass(frozen=True)
class WeightRefit:
    """Inverse probability of treatment weights refitted on every imputed exposure.

    ``column`` is the estimator's ``weights=`` column, overwritten with the weights of
    :func:`cohortlab.propensity_score` (``options``: its keyword arguments) fitted on the
    exposure of each completed cohort (and on the flag for the naive run).
    """

    column: str
    options: Mapping[str, Any]
    description: str


def refit_weights_spec(value: Any, kwargs: dict[str, Any], data: pd.DataFrame,
                       estimator: str, models_exposure: bool) -> WeightRefit | None:
    """Check ``refit_weights=`` against ``weights=``; ``kwargs`` gains ``weights`` if needed.

    ``None`` with ``weights=`` given to an estimator that does not model the exposure itself
    (Cox, Fine-Gray, Kaplan-Meier, Aalen-Johansen, a crude contrast) is refused: if those are
    IPT weights of the flag, reusing them in every imputation leaves the corrected estimate
    weighted for the wrong exposure. ``False`` keeps the column (weights that do not depend
    on the exposure).
    """
    weights = kwargs.get("weights")
    if value is None:
        if weights is None or models_exposure:
            return None
        raise DataValidationError(
            f"{verb_name()}(): {estimator}() got weights={weights!r} with a misclassified "
            "exposure to "
            "correct; got refit_weights=None. If these are inverse probability of treatment "
            "weights of the flag, they must be refitted on each imputed exposure: pass "
            "refit_weights=<the propensity model's covariates> (e.g. \"age + bmi\", or a "
            f"dict of propensity_score options: {', '.join(REFIT_KEYS)}). If they do not "
            "depend on the exposure (case or sampling weights), pass refit_weights=False."
        )
    if value is False:
        return None
    if models_exposure:
        raise DataValidationError(
            f"{verb_name()}(): {estimator}() fits its own propensity model on each imputed "
            "exposure "
            f"(its weights= are case weights); got refit_weights={value!r}. Drop "
            "refit_weights, or pass refit_weights=False."
        )
    if isinstance(value, Mapping):
        bad = sorted(set(value) - set(REFIT_KEYS))
        if bad or "covariates" not in value:
            raise DataValidationError(
                f"{verb_name()}(): refit_weights as a mapping takes the propensity_score options "
                f"{', '.join(REFIT_KEYS)} (covariates required); got keys {sorted(value)}. "
                "Pass e.g. refit_weights={'covariates': 'age + bmi', 'stabilize': True}."
            )
        options = dict(value)
    elif isinstance(value, str) or (isinstance(value, Sequence) and value
                                    and all(isinstance(v, str) for v in value)):
        options = {"covariates": value}
    else:
        raise DataValidationError(
            f"{verb_name()}(): refit_weights must be the propensity model's covariates (a formula "
            "or "
            f"a list of columns), a dict of propensity_score options, or False; got "
            f"{value!r}."
        )
    covariate_columns(options["covariates"], data, verb_name())   # names a missing column early
    if weights is None:
        kwargs["weights"] = weights = REFIT_COLUMN
    elif not isinstance(weights, str):
        raise DataValidationError(
            f"{verb_name()}(): refit_weights needs weights= to be a column name; got {weights!r}.")
    opts = ", ".join(f"{k}={v!r}" for k, v in options.items() if k != "covariates")
    desc = (f"weights {weights!r} refitted in the naive run and in each imputation: "
            f"propensity_score(covariates={_rhs(options['covariates'])!r}"
            f"{', ' + opts if opts else ''}) of the exposure of that cohort (the column's "
            "own values are not used)")
    return WeightRefit(column=weights, options=options, description=desc)


def refit_weights(frame: pd.DataFrame, exposure: str, refit: WeightRefit,
                  reference: Any = None) -> pd.DataFrame:
    """``frame`` (a shallow copy) with ``refit.column`` replaced by IPT weights of ``exposure``."""
    from ..causal.propensity import propensity_score

    ps = propensity_score(frame, exposure=exposure, reference=reference, **refit.options)
    out = frame.copy(deep=False)
    out[refit.column] = ps.weights.to_numpy()
    return out
