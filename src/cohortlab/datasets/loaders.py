"""Loaders for the real cohorts bundled with cohortlab.

Each loader reads a CSV shipped inside the package and returns a new DataFrame on every call,
so a caller can modify the result without affecting the next load.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ..results.labels import Labels

__all__ = ["load_nhefs", "load_lalonde", "load_lung", "load_mgus2", "load_rotterdam", "load_gbsg",
           "labels"]

#: NHEFS columns holding integer category codes (read as int64 whatever the CSV says).
_NHEFS_INT_CODES = ("sex", "race", "education", "active", "exercise")

#: Tumour size groups (mm) of R's ``rotterdam$size``, in R's level order.
SIZE_GROUPS = ("<=20", "20-50", ">50")


def _read_csv(name: str, **kwargs: object) -> pd.DataFrame:
    resource = files("cohortlab.datasets") / "data" / name
    with resource.open("rb") as fh:
        return pd.read_csv(fh, **kwargs)


def load_nhefs() -> pd.DataFrame:
    """Load the NHEFS smoking-cessation cohort of Hernán & Robins' *What If*.

    Provenance: Hernán MA, Robins JM. *Causal Inference: What If*. Boca Raton: Chapman &
    Hall/CRC, 2020; the ``nhefs`` file used throughout Part II. It is a subset of the
    National Health and Nutrition Examination Survey I Epidemiologic Follow-up Study
    (NHEFS): 1,629 cigarette smokers aged 25-74 years who had a baseline visit in 1971-75
    and a follow-up visit in 1982. The copy bundled here is the one distributed by the PyPI
    package ``causaldata`` 0.1.5 (``causaldata.nhefs``), with the categorical codes ``sex``,
    ``race``, ``education``, ``active`` and ``exercise`` cast to integers. Fitting the
    propensity score model of *What If* Program 12.2 on it reproduces the book's coefficients
    (e.g. intercept -2.2425, sex -0.5275, race -0.8393, age 0.1212).

    Returns
    -------
    pandas.DataFrame
        1,629 rows (one per person) and 67 columns: the 64 columns of the book's
        ``nhefs.csv`` plus ``id`` (1..1629), ``censored`` (1 if ``wt82`` is missing) and
        ``older`` (1 if ``age`` > 50), which ``causaldata`` adds. Key columns:

        - ``qsmk``: exposure, 1 if the person quit smoking between baseline and 1982;
        - ``wt82_71``: outcome of chapters 12-15, weight change 1971-1982 in kg;
        - ``death``: 1 if the person died by 1992 (``yrdth``, ``modth``, ``dadth`` date it);
        - the confounders of chapter 12: ``sex`` (0 male, 1 female), ``race`` (0 white,
          1 other), ``age``, ``education`` (1-5, 1 = 8th grade or less, 5 = college or more),
          ``smokeintensity`` (cigarettes/day), ``smokeyrs`` (years of smoking), ``exercise``
          (0 much, 1 moderate, 2 little or none), ``active`` (0 very, 1 moderately,
          2 inactive) and ``wt71`` (baseline weight, kg).

        ``wt82`` (and so ``wt82_71``) is missing for 63 people who were lost to follow-up;
        chapter 12 analyses the 1,566 with ``wt82`` observed. Other columns with missing
        values include ``sbp``, ``dbp``, ``income``, ``cholesterol`` and the price/tax columns.
        A new DataFrame is returned on each call.

    See Also
    --------
    load_lalonde : the LaLonde job-training data.

    Examples
    --------
    >>> from cohortlab.datasets import load_nhefs
    >>> nhefs = load_nhefs()
    >>> nhefs.shape
    (1629, 67)
    >>> int(nhefs["wt82"].isna().sum())
    63
    >>> nhefs.dropna(subset=["wt82"]).groupby("qsmk")["age"].mean().round(1).tolist()
    [42.8, 46.2]
    """
    df = _read_csv("nhefs.csv")
    return df.astype({col: "int64" for col in _NHEFS_INT_CODES})


def load_lalonde() -> pd.DataFrame:
    """Load the LaLonde job-training data as distributed with the R package MatchIt.

    Provenance: the ``lalonde`` data frame of MatchIt 4.5.1 (Ho, Imai, King & Stuart), a
    subsample of LaLonde R (1986), *Evaluating the econometric evaluations of training
    programs with experimental data*, American Economic Review 76:604-620, as constructed
    by Dehejia RH & Wahba S (1999), *Causal effects in nonexperimental studies*, JASA
    94:1053-1062: the 185 treated men of the National Supported Work (NSW) demonstration
    and 429 non-experimental comparison men from the Panel Study of Income Dynamics (PSID).

    Returns
    -------
    pandas.DataFrame
        614 rows (185 treated, 429 controls) and 10 columns: ``id`` (MatchIt's row name,
        e.g. ``"NSW1"``, ``"PSID1"``), ``treat`` (exposure, 1 = NSW job training),
        ``age`` (years), ``educ`` (years of schooling), ``race`` (string: ``"black"``,
        ``"hispan"`` or ``"white"``), ``married`` (0/1), ``nodegree`` (0/1, no high-school
        degree), ``re74``, ``re75`` (real earnings in 1974 and 1975, US dollars) and
        ``re78`` (outcome, real earnings in 1978). A new DataFrame is returned on each call.

    See Also
    --------
    load_nhefs : the NHEFS smoking-cessation cohort.

    Examples
    --------
    >>> from cohortlab.datasets import load_lalonde
    >>> lalonde = load_lalonde()
    >>> lalonde.shape
    (614, 10)
    >>> lalonde["treat"].value_counts().sort_index().tolist()
    [429, 185]
    >>> sorted(lalonde["race"].unique())
    ['black', 'hispan', 'white']
    """
    return _read_csv("lalonde.csv", dtype={"id": str, "race": str})


def load_lung() -> pd.DataFrame:
    """Load the NCCTG advanced lung cancer cohort (R ``survival::lung``).

    Provenance: Loprinzi CL et al. (1994), Prospective evaluation of prognostic variables from
    patient-completed questionnaires. *Journal of Clinical Oncology* 12:601-607; exported row
    for row from R survival 3.5.3 (identical to lifelines' ``load_lung()``).

    Returns
    -------
    pandas.DataFrame
        228 rows: ``inst`` (institution), ``time`` (days), ``status`` (R's coding: 1 censored,
        2 dead), ``age``, ``sex`` (1 male, 2 female), ``ph.ecog``, ``ph.karno``,
        ``pat.karno``, ``meal.cal``, ``wt.loss``, plus ``dead`` = ``status - 1`` (0/1, the
        event indicator cohortlab expects). Missing values as in R (e.g. one ``ph.ecog``).

    Examples
    --------
    >>> lung = load_lung()
    >>> lung.shape, int(lung["dead"].sum())
    ((228, 11), 165)
    """
    df = _read_csv("lung.csv")
    df["dead"] = df["status"] - 1
    return df


def load_mgus2() -> pd.DataFrame:
    """Load the MGUS cohort (R ``survival::mgus2``) with competing-risks columns added.

    Provenance: Kyle RA et al. (2002), A long-term study of prognosis in monoclonal
    gammopathy of undetermined significance. *NEJM* 346:564-569; exported row for row from R
    survival 3.5.3, as used in the survival package's "compete" vignette.

    Returns
    -------
    pandas.DataFrame
        1,384 rows: ``id``, ``age``, ``sex`` ("F"/"M"), ``dxyr``, ``hgb``, ``creat``,
        ``mspike``, ``ptime``/``pstat`` (time to plasma-cell malignancy, PCM),
        ``futime``/``death``, plus the vignette's competing-risks outcome: ``etime`` =
        ``ptime`` if PCM else ``futime`` (months) and ``event`` = 1 (PCM), 2 (death without
        PCM) or 0 (censored).

    Examples
    --------
    >>> mgus = load_mgus2()
    >>> mgus["event"].value_counts().sort_index().tolist()
    [409, 115, 860]
    """
    df = _read_csv("mgus2.csv")
    pcm = df["pstat"] == 1
    df["etime"] = df["ptime"].where(pcm, df["futime"])
    df["event"] = (pcm * 1 + (~pcm) * 2 * df["death"]).astype("int64")
    return df


def _size_group(values: pd.Series) -> pd.Categorical:
    return pd.Categorical(values, categories=list(SIZE_GROUPS), ordered=False)


def load_rotterdam() -> pd.DataFrame:
    """Load the Rotterdam tumour bank breast cancer cohort (R ``survival::rotterdam``).

    Provenance: Foekens JA et al. (2000), The urokinase system of plasminogen activation and
    prognosis in 2780 breast cancer patients. *Cancer Research* 60:636-643; the version used
    by Royston P & Altman DG (2013), External validation of a Cox prognostic model: principles
    and methods. *BMC Medical Research Methodology* 13:33, to develop a prognostic model of
    recurrence-free survival. Exported row for row from R survival 3.5.3 (``rotterdam``; the
    survival package is LGPL, the data are those of the cited studies): 2,982 women operated
    on for primary breast cancer in 1978-1993.

    Returns
    -------
    pandas.DataFrame
        2,982 rows with R's 15 columns: ``pid``, ``year`` (of surgery), ``age`` (years),
        ``meno`` (0 pre-, 1 postmenopausal), ``size`` (tumour size group, a Categorical with
        R's levels ``"<=20"``, ``"20-50"``, ``">50"`` mm), ``grade`` (2 or 3), ``nodes``
        (positive lymph nodes; 0 for 1,436 women), ``pgr``, ``er`` (progesterone and
        estrogen receptors, fmol/l), ``hormon``, ``chemo`` (0/1 treatments), ``rtime``/
        ``recur`` (days to relapse or last follow-up; 1 = relapse) and ``dtime``/``death``
        (days to death or last follow-up; 1 = dead). Derived columns:

        - ``rfstime``: days to recurrence-free survival event, ``rtime`` if ``recur == 1``
          else ``dtime`` (R: ``ifelse(recur == 1, rtime, dtime)``);
        - ``rfs``: 1 if relapse or death, ``max(recur, death)`` (R: ``pmax(recur, death)``).
          As in the survival package's Royston-Altman vignette, the 43 women who died without
          recurrence after their recurrence follow-up ended count as events at death (not
          censored at the end of recurrence follow-up);
        - ``size_group``: the same as ``size``; :func:`load_gbsg` has a ``size_group`` with
          the same levels, so a model fitted on one data set applies to the other.

        A new DataFrame is returned on each call.

    See Also
    --------
    load_gbsg : the validation cohort of Royston & Altman (2013).

    Examples
    --------
    >>> rott = load_rotterdam()
    >>> rott.shape, int(rott["rfs"].sum()), int((rott["nodes"] > 0).sum())
    ((2982, 18), 1713, 1546)
    >>> rott["size"].value_counts(sort=False).tolist()
    [1387, 1291, 304]
    """
    df = _read_csv("rotterdam.csv")
    df["size"] = _size_group(df["size"])
    df["rfstime"] = df["rtime"].where(df["recur"] == 1, df["dtime"])
    df["rfs"] = df[["recur", "death"]].max(axis=1).astype("int64")
    df["size_group"] = df["size"]
    return df


def load_gbsg() -> pd.DataFrame:
    """Load the German Breast Cancer Study Group trial cohort (R ``survival::gbsg``).

    Provenance: Schumacher M et al. (1994), Randomized 2 x 2 trial evaluating hormonal
    treatment and the duration of chemotherapy in node-positive breast cancer patients.
    *Journal of Clinical Oncology* 12:2086-2093; the 686 of its 720 node-positive patients
    (enrolled 1984-1989) with complete prognostic variables, the validation cohort of Royston P
    & Altman DG (2013), *BMC Medical Research Methodology* 13:33. Exported row for row from R
    survival 3.5.3 (``gbsg``; the survival package is LGPL, the data are those of the cited
    study).

    Returns
    -------
    pandas.DataFrame
        686 rows with R's 11 columns: ``pid``, ``age`` (years), ``meno`` (0 pre-,
        1 postmenopausal), ``size`` (tumour size, mm), ``grade`` (1-3), ``nodes`` (positive
        lymph nodes, all >= 1), ``pgr``, ``er`` (receptors, fmol/l), ``hormon`` (0/1
        hormonal therapy), ``rfstime`` (days to recurrence, death or last follow-up) and
        ``status`` (1 = recurrence or death). Derived columns:

        - ``rfs``: the same as ``status``, named as in :func:`load_rotterdam`;
        - ``size_group``: ``size`` grouped as ``rotterdam$size`` (a Categorical with levels
          ``"<=20"``, ``"20-50"``, ``">50"``; R: ``cut(size, c(0, 20, 50, 150))``).

        A new DataFrame is returned on each call.

    See Also
    --------
    load_rotterdam : the development cohort of Royston & Altman (2013).

    Examples
    --------
    >>> gbsg = load_gbsg()
    >>> gbsg.shape, int(gbsg["rfs"].sum())
    ((686, 13), 299)
    >>> gbsg["size_group"].value_counts(sort=False).tolist()
    [180, 453, 53]
    """
    df = _read_csv("gbsg.csv")
    df["rfs"] = df["status"].astype("int64")
    groups = pd.cut(df["size"], [0, 20, 50, 150], labels=list(SIZE_GROUPS))
    df["size_group"] = _size_group(groups.astype(str))
    return df


# ---------------------------------------------------------------------- labels
def _label_tables() -> dict[str, Any]:
    """The display labels of every bundled data set, read afresh from ``data/labels.json``.

    One entry per data set (and ``"wearable"`` for :func:`simulate_cohort`'s columns) in the
    shape :meth:`~cohortlab.results.labels.Labels.from_dict` reads; codes follow each
    loader's docstring (and the R documentation of the source data).
    """
    resource = files("cohortlab.datasets") / "data" / "labels.json"
    tables: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return tables


def labels(name: str) -> Labels:
    """The display labels shipped with a bundled data set, as a :class:`~cohortlab.Labels`.

    Labels are data: pass them as ``labels=`` to :func:`cohortlab.table1`,
    :func:`cohortlab.report.table2`, the plot functions and :class:`cohortlab.report.Report`
    so that no column name or code reaches a clinician-facing table. The codes follow each
    loader's docstring (e.g. NHEFS ``education`` 1-5 = 8th grade or less, high school
    dropout, high school, college dropout, college or more; Rotterdam ``size`` <=20, 20-50,
    >50 mm).

    Parameters
    ----------
    name : str
        ``"nhefs"``, ``"lung"``, ``"mgus2"``, ``"rotterdam"``, ``"gbsg"``, ``"lalonde"`` or
        ``"wearable"`` (the columns of :func:`cohortlab.datasets.simulate_cohort`).

    Returns
    -------
    Labels
        A new object on each call; combine with your own by ``labels("nhefs").merge({...})``.

    Examples
    --------
    >>> lab = labels("nhefs")
    >>> lab.value("education", 1), lab.arm(1), lab.variable("smokeintensity")
    ('8th grade or less', 'Quit smoking', 'Cigarettes per day')
    >>> labels("rotterdam").to_report_time(365.25)
    1.0
    """
    from ..exceptions import CohortError
    from ..results.labels import Labels

    tables = _label_tables()
    key = str(name).lower().removeprefix("load_")
    if key not in tables:
        raise CohortError(f"datasets.labels(): no labels for {name!r}; the data sets with "
                          f"labels are {sorted(tables)}.")
    return Labels.from_dict(tables[key])
