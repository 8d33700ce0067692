"""Pooled logistic regression from per-chunk sufficient statistics (arrays only).

The expanded sequential-trial data are never held whole: a *source* re-creates each chunk
on demand (``source()`` yields :class:`Block` objects, one per chunk of persons), and each
Newton (IRLS) step sums ``X' W X`` and ``X' W (y - mu)`` over the chunks (the normal
equations of IRLS, ``X'WX step = X'W(z - eta)``). Newton steps are solved on a Jacobi-scaled
system and halved when they lower the likelihood (as R's ``glm.fit``).

A chunk's design is *blocked*, ``x_r = [T[cell_r], E[entry_r], Z_r]``: a time block with
one row per (arm, follow-up) cell, an entry block with one row per person-trial, and an
optional row block (current covariates of a weight model). The cross-products are summed
per cell and per entry with ``np.bincount`` (``sum_r v_r T_c T_c' = T' diag(v_c) T``), so
the cost per row is a few scalar operations, not ``p^2``; a plain dense design is the
special case with empty time and entry blocks. Person-period input can come from a
DataFrame or from a Parquet file read through DuckDB one block of persons at a time
(imported lazily; the ``trials`` extra).

Every pass over the chunks is a map (a function of one chunk: its sufficient statistics,
scores or counts) followed by a reduction on the caller's side in chunk order
(:func:`map_chunks`). A plain source is mapped here, in a loop; a source with a ``map``
method (the Dask engine's partitions, ``_dask.py``) runs the function where its chunks
live and returns the per-chunk results in the same order, so both engines sum the same
numbers in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy.special import expit

from ..exceptions import ConvergenceError

__all__ = ["Block", "ChunkFit", "Mapped", "Source", "dense_block", "fit_chunked", "fit_many",
           "map_chunks", "parquet_chunks", "parquet_ids"]


@dataclass(frozen=True, eq=False)
class Block:
    """One chunk's blocked design ``[T[cell], E[entry], Z]``, response, weights, persons."""

    T: np.ndarray  # (n_cells, p_T)
    cell: np.ndarray  # (n,)
    E: np.ndarray  # (n_E, p_E)
    entry: np.ndarray  # (n,)
    Z: np.ndarray  # (n, p_Z)
    y: np.ndarray
    w: np.ndarray
    person: np.ndarray  # (n,) person code of each row; rows of a person are contiguous

    @property
    def p(self) -> int:
        return self.T.shape[1] + self.E.shape[1] + self.Z.shape[1]

    def eta(self, beta: np.ndarray) -> np.ndarray:
        pt, pe = self.T.shape[1], self.E.shape[1]
        out = (self.T @ beta[:pt])[self.cell] + (self.E @ beta[pt:pt + pe])[self.entry]
        if self.Z.shape[1]:
            out += self.Z @ beta[pt + pe:]
        return out

    def _sum_by(self, idx: np.ndarray, n: int, v: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=v, minlength=n)

    def cross(self, v: np.ndarray) -> np.ndarray:
        """``X' diag(v) X`` from the blocks."""
        T, E, Z = self.T, self.E, self.Z
        vc = self._sum_by(self.cell, T.shape[0], v)
        ve = self._sum_by(self.entry, E.shape[0], v)
        tt = (T * vc[:, None]).T @ T
        ee = (E * ve[:, None]).T @ E
        # T' (cells x entries sums) E: per entry, the v-weighted sum of its cells' T rows
        g = np.column_stack([self._sum_by(self.entry, E.shape[0], v * T[self.cell, j])
                             for j in range(T.shape[1])]) if T.shape[1] else \
            np.zeros((E.shape[0], 0))
        te = g.T @ E
        blocks = [[tt, te], [te.T, ee]]
        if Z.shape[1]:
            zv = Z * v[:, None]
            tz = np.column_stack([self._sum_by(self.cell, T.shape[0], zv[:, j])
                                  for j in range(Z.shape[1])])
            ez = np.column_stack([self._sum_by(self.entry, E.shape[0], zv[:, j])
                                  for j in range(Z.shape[1])])
            blocks = [[tt, te, T.T @ tz], [te.T, ee, E.T @ ez],
                      [(T.T @ tz).T, (E.T @ ez).T, zv.T @ Z]]
        return np.block(blocks)

    def xtv(self, v: np.ndarray) -> np.ndarray:
        """``X' v``."""
        parts = [self.T.T @ self._sum_by(self.cell, self.T.shape[0], v),
                 self.E.T @ self._sum_by(self.entry, self.E.shape[0], v)]
        if self.Z.shape[1]:
            parts.append(self.Z.T @ v)
        return np.concatenate(parts)

    def scores(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-person sums of ``r_i x_i``: (person labels, scores)."""
        if r.shape[0] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.p))
        brk = np.flatnonzero(np.r_[True, self.person[1:] != self.person[:-1]])
        grp = np.cumsum(np.r_[False, self.person[1:] != self.person[:-1]])
        n_g = brk.size
        # time block: per person, sum over rows of r T[cell]; entry block via per-entry sums
        cols: list[np.ndarray] = [
                np.bincount(grp, weights=r * self.T[self.cell, j], minlength=n_g)
                for j in range(self.T.shape[1])]
        re = np.bincount(self.entry, weights=r, minlength=self.E.shape[0])
        e_grp = np.full(self.E.shape[0], -1)
        e_grp[self.entry] = grp
        used = e_grp >= 0
        ue = np.zeros((n_g, self.E.shape[1]))
        np.add.at(ue, e_grp[used], self.E[used] * re[used, None])
        cols += [ue[:, j] for j in range(self.E.shape[1])]
        cols += [np.bincount(grp, weights=r * self.Z[:, j], minlength=n_g)
                 for j in range(self.Z.shape[1])]
        return self.person[brk], np.column_stack(cols) if cols else np.zeros((n_g, 0))


def dense_block(X: np.ndarray, y: np.ndarray, w: np.ndarray, person: np.ndarray) -> Block:
    """A plain design ``X`` as a :class:`Block` (empty time and entry blocks)."""
    n = X.shape[0]
    z = np.zeros(n, dtype=np.int64)
    return Block(T=np.zeros((1, 0)), cell=z, E=np.zeros((1, 0)), entry=z, Z=X, y=y, w=w,
                 person=person)


Source = Callable[[], Iterator[Block]]
ManySource = Callable[[], Iterator[tuple[Block, ...]]]


@dataclass(frozen=True, eq=False)
class ChunkFit:
    """Coefficients, the summed information ``X'WVX`` and the person-level scores."""

    coef: np.ndarray
    information: np.ndarray  # sum over rows of w mu (1 - mu) x x' (not divided by n)
    scores: np.ndarray  # one row per cluster (person): sum of w x (y - mu)
    clusters: np.ndarray  # the cluster label of each row of ``scores``
    n_rows: int
    n_events: float
    n_iter: int
    loglik: float

    def vcov_cluster(self) -> np.ndarray:
        """Cluster-robust (CR0: HC0 meat, no small-sample factor) covariance."""
        bread = np.linalg.inv(self.information)
        return bread @ (self.scores.T @ self.scores) @ bread

    def influence(self) -> np.ndarray:
        """Per-cluster influence values of the coefficients (``bread @ score_i``), unscaled."""
        return np.linalg.solve(self.information, self.scores.T).T


def map_chunks(source: Any, fn: Callable[[Any], Any]) -> Iterable[Any]:
    """``fn`` of every chunk of ``source``, in chunk order.

    A plain source (a callable returning an iterator of chunks) is mapped here, lazily; a
    source with a ``map`` method (Dask partitions, or a :class:`Mapped` source over them)
    runs ``fn`` where the chunks are and returns the per-chunk results in the same order.

    Examples
    --------
    >>> list(map_chunks(lambda: iter([1, 2, 3]), lambda c: 10 * c))
    [10, 20, 30]
    >>> list(map_chunks(Mapped(lambda: iter([1, 2]), lambda c: c + 1), lambda c: -c))
    [-2, -3]
    """
    m = getattr(source, "map", None)
    return m(fn) if m is not None else (fn(c) for c in source())


def _then(f: Callable[[Any], Any], fn: Callable[[Any], Any], chunk: Any) -> Any:
    return fn(f(chunk))


@dataclass(frozen=True, eq=False)
class Mapped:
    """The chunks of ``base`` transformed by ``f`` (person-period arrays -> designs).

    Iterating (``Mapped(...)()``) transforms each chunk here; :func:`map_chunks` composes
    ``f`` with the mapped function and hands both to ``base``, so a distributed base runs the
    transformation next to its data.
    """

    base: Any
    f: Callable[[Any], Any]

    def __call__(self) -> Iterator[Any]:
        return (self.f(c) for c in self.base())

    def map(self, fn: Callable[[Any], Any]) -> Iterable[Any]:
        return map_chunks(self.base, partial(_then, self.f, fn))


def _stats(beta: np.ndarray, b: Block) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """One chunk's log-likelihood, information, gradient, sum of w and of w y at ``beta``."""
    eta = b.eta(beta)
    mu = expit(eta)
    return (float(np.sum(b.w * (b.y * eta - np.logaddexp(0.0, eta)))),
            b.cross(b.w * mu * (1 - mu)), b.xtv(b.w * (b.y - mu)), float(b.w.sum()),
            float(b.w @ b.y))


def _pass(source: Source, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float,
                                                     float]:
    """Log-likelihood, information, gradient, sum of w and sum of w y at ``beta``."""
    p = beta.shape[0]
    info, grad, ll, sw, swy = np.zeros((p, p)), np.zeros(p), 0.0, 0.0, 0.0
    for c_ll, c_info, c_grad, c_sw, c_swy in map_chunks(source, partial(_stats, beta)):
        ll += c_ll
        info += c_info
        grad += c_grad
        sw += c_sw
        swy += c_swy
    return ll, info, grad, sw, swy


def _solve(info: np.ndarray, grad: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.maximum(np.diag(info), 1e-300))
    scaled = info / d[:, None] / d[None, :]
    try:
        return np.linalg.solve(scaled, grad / d) / d
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(scaled, grad / d, rcond=None)[0] / d


def fit_chunked(source: Source, p: int, *, names: tuple[str, ...] | None = None,
                func: str = "sequential_trials", response: str = "the outcome",
                intercept: int | None = 0, max_iter: int = 50, tol: float = 1e-10,
                scores: bool = True, start: np.ndarray | None = None) -> ChunkFit:
    """Weighted logistic MLE by Newton-Raphson on sufficient statistics summed over chunks.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(600), rng.normal(size=600)])
    >>> y = rng.binomial(1, expit(0.5 + X[:, 1])).astype(float)
    >>> def source():
    ...     for k in range(3):
    ...         s = slice(200 * k, 200 * (k + 1))
    ...         yield dense_block(X[s], y[s], np.ones(200), np.arange(600)[s])
    >>> from cohortlab._glm import fit_logistic
    >>> bool(np.allclose(fit_chunked(source, 2).coef, fit_logistic(X, y).coef, atol=1e-10))
    True
    """
    beta = np.zeros(p) if start is None else np.array(start, dtype=float)
    if start is None:
        it0 = source()
        first, second = next(it0, None), next(it0, None)
        if first is not None and second is not None:
            # warm start: Newton on the first chunk alone (cheap), then the full passes
            # converge in two or three steps; the maximum is that of the full data
            try:
                beta = fit_chunked(lambda: iter([first]), p, intercept=intercept,
                                   max_iter=max_iter, tol=1e-6, scores=False).coef
            except ConvergenceError:
                beta = np.zeros(p)
        del it0, first, second
    ll, info, grad, sw, swy = _pass(source, beta)
    if sw <= 0:
        raise ConvergenceError(f"{func}(): no rows with positive weight to fit {response}.")
    ybar = swy / sw
    if start is None and not beta.any() and intercept is not None and 0 < ybar < 1:
        beta[intercept] = np.log(ybar / (1 - ybar))
        ll, info, grad, _, _ = _pass(source, beta)
    scale = np.sqrt(np.maximum(np.diag(info), 1e-300) / sw) / 0.5  # ~ column RMS
    it, converged = 0, False
    while it < max_iter and not converged:
        it += 1
        step = _solve(info, grad)
        for _ in range(30):
            ll_new, info_new, grad_new, _, _ = _pass(source, beta + step)
            if ll_new >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
        beta, ll, info, grad = beta + step, ll_new, info_new, grad_new
        converged = bool(np.max(np.abs(step * scale)) < tol * (1 + np.max(np.abs(beta * scale))))
    big = np.abs(beta * scale)
    if not converged or np.max(big) > 50:
        worst = int(np.argmax(big))
        label = names[worst] if names else f"x{worst}"
        raise ConvergenceError(
            f"{func}(): the pooled logistic model of {response} did not converge ({it} "
            f"iterations; coefficient of {label} = {beta[worst]:.3g}). A term (likely "
            f"{label!r}) separates {response}; drop or coarsen it."
        )
    return _finish(source, beta, info, it, ll, scores)


def _stats_many(betas: list[np.ndarray], active: list[bool], blocks: tuple[Block, ...]
                ) -> list[tuple | None]:
    return [_stats(betas[j], b) if active[j] else None for j, b in enumerate(blocks)]


def _pass_many(source: ManySource, betas: list[np.ndarray], active: list[bool]) -> list:
    """``_pass`` for several models whose blocks one source yields together (one expansion)."""
    out: list[list[Any]] = [[0.0, np.zeros((b.size, b.size)), np.zeros(b.size), 0.0, 0.0]
                            for b in betas]
    for stats in map_chunks(source, partial(_stats_many, list(betas), list(active))):
        for j, st in enumerate(stats):
            if st is None:
                continue
            o = out[j]
            for k in range(5):
                o[k] += st[k]
    return out


def fit_many(source: ManySource, ps: list[int], *, responses: list[str],
             func: str = "sequential_trials", max_iter: int = 50, tol: float = 1e-10,
             start: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Several logistic models fitted in lockstep, one pass over the chunks per Newton step.

    ``source()`` yields, per chunk, one :class:`Block` per model (column 0 the intercept).
    Each model keeps its own Newton step, step halving and convergence; a pass evaluates
    only the models still iterating. Same maximum as :func:`fit_chunked` on each model.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(400), rng.normal(size=400)])
    >>> y1 = rng.binomial(1, expit(X[:, 1])).astype(float)
    >>> y2 = rng.binomial(1, expit(-1 - X[:, 1])).astype(float)
    >>> src = lambda: iter([(dense_block(X, y1, np.ones(400), np.arange(400)),
    ...                      dense_block(X, y2, np.ones(400), np.arange(400)))])
    >>> b1, b2 = fit_many(src, [2, 2], responses=["y1", "y2"])
    >>> from cohortlab._glm import fit_logistic
    >>> bool(np.allclose(b2, fit_logistic(X, y2).coef, atol=1e-10))
    True
    """
    m = len(ps)
    betas = [np.zeros(p) for p in ps] if start is None else [np.array(b) for b in start]
    if start is None:
        it0 = source()
        first, second = next(it0, None), next(it0, None)
        if first is not None and second is not None:
            try:  # warm start from the first chunk alone
                betas = fit_many(lambda: iter([first]), ps, responses=responses, func=func,
                                 max_iter=max_iter, tol=1e-6, start=betas)
            except ConvergenceError:
                betas = [np.zeros(p) for p in ps]
        del it0, first, second
    active = [True] * m
    st = _pass_many(source, betas, active)
    for j in range(m):
        if st[j][3] <= 0:
            raise ConvergenceError(f"{func}(): no rows to fit {responses[j]}.")
    if start is None and not any(b.any() for b in betas):
        for j in range(m):
            ybar = st[j][4] / st[j][3]
            if 0 < ybar < 1:
                betas[j][0] = np.log(ybar / (1 - ybar))
        st = _pass_many(source, betas, active)
    scale = [np.sqrt(np.maximum(np.diag(st[j][1]), 1e-300) / st[j][3]) / 0.5 for j in range(m)]
    steps = [_solve(st[j][1], st[j][2]) for j in range(m)]
    iters, halvings = [0] * m, [0] * m
    while any(active):
        prop = [betas[j] + steps[j] if active[j] else betas[j] for j in range(m)]
        new = _pass_many(source, prop, active)
        for j in range(m):
            if not active[j]:
                continue
            if new[j][0] >= st[j][0] - 1e-10 * (1.0 + abs(st[j][0])) or halvings[j] >= 30:
                done = np.max(np.abs(steps[j] * scale[j])) < tol * (
                    1 + np.max(np.abs(prop[j] * scale[j])))
                betas[j], st[j], halvings[j] = prop[j], new[j], 0
                iters[j] += 1
                steps[j] = _solve(st[j][1], st[j][2])
                if done or iters[j] >= max_iter:
                    active[j] = False
                    if not done or np.max(np.abs(betas[j] * scale[j])) > 50:
                        raise ConvergenceError(
                            f"{func}(): the pooled logistic model of {responses[j]} did not "
                            f"converge ({iters[j]} iterations). A covariate likely separates "
                            "it; drop or coarsen it."
                        )
            else:
                steps[j] = steps[j] / 2.0
                halvings[j] += 1
    return betas


def _chunk_scores(beta: np.ndarray, b: Block) -> tuple[int, float, np.ndarray, np.ndarray]:
    mu = expit(b.eta(beta))
    lab, u = b.scores(b.w * (b.y - mu))
    return int((b.w > 0).sum()), float(((b.w > 0) * b.y).sum()), lab, u


def _finish(source: Source, beta: np.ndarray, info: np.ndarray, it: int, ll: float,
            scores: bool) -> ChunkFit:
    """Per-person scores and counts at the final coefficients."""
    parts, labels = [], []
    n_rows, n_events = 0, 0.0
    if scores:
        for c_rows, c_events, lab, u in map_chunks(source, partial(_chunk_scores, beta)):
            n_rows += c_rows
            n_events += c_events
            parts.append(u)
            labels.append(lab)
    p = beta.shape[0]
    sc = np.vstack(parts) if parts else np.zeros((0, p))
    lab = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    return ChunkFit(coef=beta, information=info, scores=sc, clusters=lab, n_rows=n_rows,
                    n_events=n_events, n_iter=it, loglik=ll)


def _duckdb():  # noqa: ANN202 - the module, imported lazily
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Reading Parquet needs duckdb: pip install 'cohortlab[trials]'."
        ) from exc
    return duckdb


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_ids(path: str, id_col: str) -> np.ndarray:
    """The sorted distinct ids of a Parquet file (one column read)."""
    con = _duckdb().connect()
    try:
        return con.execute(f"SELECT DISTINCT {_q(id_col)} AS i FROM read_parquet($path) "
                           "ORDER BY i", {"path": path}).fetchnumpy()["i"]
    finally:
        con.close()


def parquet_chunks(path: str, columns: list[str], id_col: str, period_col: str,
                   chunk_persons: int, ids: np.ndarray) -> Iterator:
    """Yield pandas frames of whole persons from a Parquet file, ``chunk_persons`` at a time.

    DuckDB reads only ``columns`` and only the rows of each block of persons (blocks are
    ranges of ``ids``, the sorted distinct ids), sorted by ``(id, period)``; the file is never
    loaded whole. A file sorted by id lets DuckDB skip row groups outside each block.
    """
    con = _duckdb().connect()
    try:
        rel = "read_parquet($path)"
        q, qp = _q(id_col), _q(period_col)
        cols = ", ".join(_q(c) for c in columns)
        for k in range(0, ids.shape[0], chunk_persons):
            lo, hi = ids[k], ids[min(k + chunk_persons, ids.shape[0]) - 1]
            yield con.execute(
                f"SELECT {cols} FROM {rel} WHERE {q} BETWEEN $lo AND $hi ORDER BY {q}, {qp}",
                {"path": path, "lo": lo.item() if hasattr(lo, "item") else lo,
                 "hi": hi.item() if hasattr(hi, "item") else hi},
            ).df()
    finally:
        con.close()
