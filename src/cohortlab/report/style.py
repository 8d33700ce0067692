"""One publication style for figures: font sizes, colour cycle, 300 dpi export.

The style is a set of matplotlib rc parameters applied only inside a context manager
(:func:`publication_style`), never globally. Draw figures inside it to get the journal font
sizes; :func:`save_figure` and :class:`cohortlab.report.document.Report` export inside it, so
every exported file has the same resolution, margins and text handling.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DataValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PUBLICATION_RC", "COLORS", "publication_style", "save_figure", "figure_bytes", "axes",
           "style"]

#: The colour cycle (the same colours as cohortlab's figures): blue, red, green, amber, ...
COLORS: tuple[str, ...] = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6c4f8c", "#00798c",
                           "#8d6a9f")
#: Export resolution of raster images, dots per inch.
DPI = 300

#: The rc parameters of the publication style.
PUBLICATION_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"],
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.5,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "savefig.facecolor": "white",
    "svg.fonttype": "none",  # text stays text in SVG (editable, small)
    "pdf.fonttype": 42,  # TrueType fonts embedded in PDF (journals ask for it)
}



def axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or a new constrained-layout Axes of ``figsize`` inches when None.

    The one way cohortlab's figures (report, evaluation, sensitivity, causal, subgroups)
    get their Axes; pair it with :func:`style`.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def style(ax: Axes) -> None:
    """The shared look of every cohortlab figure: no top/right spines, 9-point tick labels."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


_FORMATS = ("png", "svg", "pdf", "tif", "tiff", "jpg", "jpeg", "eps")


@contextmanager
def publication_style(**overrides: Any) -> Iterator[None]:
    """Apply the publication style to figures drawn and saved inside the block.

    Parameters
    ----------
    **overrides
        rc parameters that replace the style's, passed as ``**{"font.size": 10}``.

    Examples
    --------
    >>> import matplotlib
    >>> with publication_style():
    ...     matplotlib.rcParams["savefig.dpi"]
    300.0
    """
    import matplotlib
    from cycler import cycler

    rc = dict(PUBLICATION_RC)
    rc["axes.prop_cycle"] = cycler(color=list(COLORS))
    rc.update(overrides)
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]  # stub: literal rcParams keys only
        yield


def _as_figure(fig: Any, func: str) -> Any:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    if isinstance(fig, Axes):
        fig = fig.figure
    if isinstance(fig, SubFigure):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise TypeError(
            f"{func}(): fig must be a matplotlib Figure or Axes; got {type(fig).__name__}. "
            "Pass the Axes a cohortlab plot returns, or ax.figure."
        )
    return fig


def figure_bytes(fig: Any, fmt: str = "png", *, dpi: int = DPI) -> bytes:
    """A figure (or the Figure of an Axes) rendered to bytes in the publication style.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> figure_bytes(fig)[1:4]
    b'PNG'
    >>> plt.close(fig)
    """
    fig = _as_figure(fig, "figure_bytes")
    buf = io.BytesIO()
    with publication_style():
        fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


def save_figure(
    fig: Any,
    path: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    *,
    dpi: int = DPI,
    metadata: Mapping[str, str | None] | None = None,
) -> list[Path]:
    """Save a figure in several formats at once (300 dpi, tight margins, white background).

    Parameters
    ----------
    fig : matplotlib Figure or Axes
        The figure (an Axes is saved as its whole Figure).
    path : str or Path
        File name; its suffix is replaced by each format's (``km`` -> ``km.png``, ``km.svg``).
    formats : sequence of str
        Any of png, svg, pdf, tif/tiff, jpg/jpeg, eps.
    dpi : int
        Resolution of raster formats.
    metadata : mapping, optional
        Passed to matplotlib (e.g. ``{"Title": ...}``) for the formats that support it.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.

    Examples
    --------
    >>> import tempfile
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in save_figure(ax, Path(tmp) / "km")]
    ['km.png', 'km.svg']
    >>> plt.close(fig)
    """
    fig = _as_figure(fig, "save_figure")
    if isinstance(formats, str):
        formats = (formats,)
    bad = [f for f in formats if str(f).lower().lstrip(".") not in _FORMATS]
    if bad or not formats:
        raise DataValidationError(
            f"save_figure(): unknown image formats in formats; got {list(formats)}. "
            f"Use some of {list(_FORMATS)}."
        )
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower().lstrip(".") in _FORMATS else base
    out = []
    with publication_style():
        for fmt in formats:
            f = str(fmt).lower().lstrip(".")
            target = base.with_name(f"{base.name}.{f}")
            meta = dict(metadata) if metadata and f in ("png", "svg", "pdf") else None
            fig.savefig(target, format=f, dpi=dpi, metadata=meta)
            out.append(target)
    return out
