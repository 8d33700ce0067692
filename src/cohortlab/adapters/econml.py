"""EconML adapter: fit a CATE learner on arrays and average its effects over groups.

``econml`` is imported inside the functions only (``import cohortlab`` never imports it);
install it with ``pip install "cohortlab[causal-ml]"`` (or ``pip install econml``). The
public verb is :func:`cohortlab.subgroups.cate.cate`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._optional import import_optional

__all__ = ["CateFit", "fit_cate", "group_effect"]


@dataclass(frozen=True, eq=False)
class CateFit:
    """A fitted EconML estimator and the warnings it emitted (recorded, not re-raised)."""

    model: Any
    learner: str
    notes: tuple[str, ...]


def fit_cate(y: np.ndarray, a: np.ndarray, X: np.ndarray, W: np.ndarray | None, *,
             learner: str, outcome_model: Any = None, propensity_model: Any = None,
             cv: int = 5, n_estimators: int = 500, random_state: int | None = None,
             func: str = "cate") -> CateFit:
    """Fit EconML's ``LinearDRLearner`` (``learner="dr"``) or ``CausalForestDML`` (``"forest"``).

    ``X`` holds the effect modifiers, ``W`` the other confounders; the exposure ``a`` is
    binary. Nuisance models default to EconML's ``"auto"`` choices. Warnings raised inside
    EconML and scikit-learn are recorded in ``notes`` (not re-raised), except library
    deprecation notices (``FutureWarning``, ``DeprecationWarning``), which are dropped.
    """
    import_optional("econml", func)
    from econml.dml import CausalForestDML
    from econml.dr import LinearDRLearner

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if learner == "dr":
            model = LinearDRLearner(
                model_propensity=propensity_model if propensity_model is not None else "auto",
                model_regression=outcome_model if outcome_model is not None else "auto",
                cv=cv, random_state=random_state)
        else:
            model = CausalForestDML(
                model_y=outcome_model if outcome_model is not None else "auto",
                model_t=propensity_model if propensity_model is not None else "auto",
                discrete_treatment=True, cv=cv, n_estimators=n_estimators,
                random_state=random_state)
        model.fit(y, a, X=X, W=W)
    # library deprecation notices (FutureWarning, DeprecationWarning) say nothing about the
    # data or the fit; every other warning goes into the notes
    kept = [w for w in caught if not issubclass(w.category, FutureWarning | DeprecationWarning)]
    notes = tuple(dict.fromkeys(f"EconML: {w.category.__name__}: {w.message}" for w in kept))
    return CateFit(model=model, learner=learner, notes=notes)


def group_effect(fit: CateFit, X: np.ndarray, conf_level: float
                 ) -> tuple[float, float, float, float, float]:
    """Average CATE over the rows ``X``: point, SE, interval and p-value (EconML inference).

    EconML's ``ate_inference(X).mean_point`` and ``stderr_mean``: the uncertainty of the
    fitted effect function averaged over these rows (the rows themselves are held fixed).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf = fit.model.ate_inference(X=X)
        lo, hi = inf.conf_int_mean(alpha=1 - conf_level)
        return (float(np.squeeze(inf.mean_point)), float(np.squeeze(inf.stderr_mean)),
                float(np.squeeze(lo)), float(np.squeeze(hi)), float(np.squeeze(inf.pvalue())))
