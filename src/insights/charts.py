"""Charts as inline SVG strings (pure; no I/O, stdlib only). Every chart carries a title and
a description (its text alternative) and comes with the HTML table of the data it draws,
so nothing is only visual. Colours: viridis for values (ordered, readable with every
common colour-vision deficiency, and the value is printed in each cell), the Okabe-Ito
palette for categories, always with a legend and labels. No style attributes (the page
CSP forbids them): presentation attributes such as fill="#..." only."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

# Viridis, nine stops from 0 to 1 (matplotlib's colormap sampled evenly).
VIRIDIS = ("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725")
EMPTY_FILL = "#eeeeee"
# Okabe & Ito (2008): distinguishable under deuteranopia, protanopia and tritanopia.
CATEGORY = ("#0072b2", "#e69f00", "#cc79a7", "#999999", "#009e73", "#d55e00", "#56b4e9", "#f0e442")
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def viridis(value: float) -> str:
    """The colour of a value in [0, 1] (clamped)."""
    v = min(1.0, max(0.0, float(value)))
    return VIRIDIS[min(len(VIRIDIS) - 1, int(v * (len(VIRIDIS) - 1) + 0.5))]


def ink_on(fill: str) -> str:
    """Black or white text, whichever reads better on `fill` (WCAG relative luminance)."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f}%"


def _open(chart_id: str, width: float, height: float, title: str, desc: str, role: str = "img") -> str:
    return (f'<svg id="{esc(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" role="{role}" '
            f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'aria-labelledby="{esc(chart_id)}-title {esc(chart_id)}-desc" {FONT} font-size="12">'
            f'<title id="{esc(chart_id)}-title">{esc(title)}</title><desc id="{esc(chart_id)}-desc">{esc(desc)}</desc>')


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


# -- heatmap -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """A row or column of a heatmap: its label and, optionally, a link to its detail."""

    key: str
    label: str
    href: str | None = None


@dataclass(frozen=True)
class Cell:
    value: float | None          # None: no evidence yet
    note: str = ""               # tooltip text after the value (status, attempts)
    mark: str = ""               # one character drawn in the corner (e.g. "!" wheel-spinning)


def heatmap(chart_id: str, title: str, desc: str, rows: list[Axis], cols: list[Axis],
            cells: dict[tuple[str, str], Cell], cell_w: int = 40, cell_h: int = 26, label_w: int = 170) -> str:
    """Rows x columns of values in [0, 1]; each cell coloured (viridis) with its value
    printed in it. Row and column labels are links when they have an href (keyboard
    focusable); the cells themselves are decoration for sighted readers, whose data the
    table from `heatmap_table` carries for everyone."""
    head_h = 110
    legend_h = 44
    width = label_w + cell_w * max(1, len(cols)) + 110  # room for the last column's slanted name
    height = head_h + cell_h * max(1, len(rows)) + legend_h
    out = [_open(chart_id, width, height, title, desc, role="group")]
    for j, col in enumerate(cols):
        x = label_w + j * cell_w + cell_w / 2
        text = (f'<text x="{x:.1f}" y="{head_h - 8}" transform="rotate(-40 {x:.1f} {head_h - 8})" '
                f'fill="#1b1b1b">{esc(_short(col.label, 22))}</text>')
        out.append(_link(col.href, f"{col.label}: concept detail", text))
    for i, row in enumerate(rows):
        y = head_h + i * cell_h
        text = f'<text x="4" y="{y + cell_h * 0.68:.1f}" fill="#0b5cad">{esc(_short(row.label, 24))}</text>'
        out.append(_link(row.href, f"{row.label}: learner detail", text))
        out.append('<g aria-hidden="true">')
        for j, col in enumerate(cols):
            cell = cells.get((row.key, col.key), Cell(None))
            x = label_w + j * cell_w
            fill = EMPTY_FILL if cell.value is None else viridis(cell.value)
            ink = "#545454" if cell.value is None else ink_on(fill)
            label = "–" if cell.value is None else f"{round(100 * cell.value)}"
            tip = f"{row.label} · {col.label}: {pct(cell.value)}" + (f" ({cell.note})" if cell.note else "")
            out.append(f'<g class="cell" data-row="{esc(row.key)}" data-col="{esc(col.key)}" '
                       f'data-value="{"" if cell.value is None else f"{cell.value:.4f}"}"><title>{esc(tip)}</title>'
                       f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
                       f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h * 0.68:.1f}" text-anchor="middle" '
                       f'fill="{ink}">{esc(label)}</text>')
            if cell.mark:
                out.append(f'<text x="{x + cell_w - 5}" y="{y + 10}" text-anchor="end" font-size="10" '
                           f'font-weight="700" fill="{ink}">{esc(cell.mark)}</text>')
            out.append("</g>")
        out.append("</g>")
    out.append(_legend(10, head_h + cell_h * max(1, len(rows)) + 10))
    out.append("</svg>")
    return "".join(out)


def _link(href: str | None, label: str, inner: str) -> str:
    if not href:
        return inner
    return f'<a href="{esc(href)}" aria-label="{esc(label)}">{inner}</a>'


def _legend(x: float, y: float) -> str:
    parts = ['<g aria-hidden="true">', f'<text x="{x}" y="{y + 12}" fill="#1b1b1b">Mastery</text>']
    for k, colour in enumerate(VIRIDIS):
        parts.append(f'<rect x="{x + 60 + k * 26}" y="{y}" width="26" height="16" fill="{colour}"/>')
    parts.append(f'<text x="{x + 60}" y="{y + 30}" fill="#1b1b1b">0%</text>'
                 f'<text x="{x + 60 + 9 * 26}" y="{y + 30}" text-anchor="end" fill="#1b1b1b">100%</text>'
                 f'<rect x="{x + 60 + 9 * 26 + 14}" y="{y}" width="26" height="16" fill="{EMPTY_FILL}"/>'
                 f'<text x="{x + 60 + 9 * 26 + 44}" y="{y + 12}" fill="#1b1b1b">– not started</text></g>')
    return "".join(parts)


def heatmap_table(table_id: str, caption: str, rows: list[Axis], cols: list[Axis],
                  cells: dict[tuple[str, str], Cell], row_header: str = "Learner") -> str:
    head = "".join(f'<th scope="col">{_html_link(c.href, c.label)}</th>' for c in cols)
    body = []
    for r in rows:
        tds = []
        for c in cols:
            cell = cells.get((r.key, c.key), Cell(None))
            note = f" <span class=\"muted\">{esc(cell.note)}</span>" if cell.note else ""
            tds.append(f"<td>{esc(pct(cell.value))}{note}</td>")
        body.append(f'<tr><th scope="row">{_html_link(r.href, r.label)}</th>{"".join(tds)}</tr>')
    return (f'<table id="{esc(table_id)}"><caption>{esc(caption)}</caption><thead><tr>'
            f'<th scope="col">{esc(row_header)}</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _html_link(href: str | None, label: str) -> str:
    return f'<a href="{esc(href)}">{esc(label)}</a>' if href else esc(label)


# -- bars ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    label: str
    value: float                 # in the chart's unit
    text: str = ""               # printed after the bar (defaults to the value)
    href: str | None = None
    colour: str | None = None    # default: viridis of value / maximum


def bars(chart_id: str, title: str, desc: str, items: list[Bar], maximum: float | None = None,
         label_w: int = 170, bar_w: int = 260, bar_h: int = 22, colour_by_value: bool = True) -> str:
    """Horizontal bars, one per item, each with its value printed beside it."""
    top = max([i.value for i in items] + [maximum or 0, 1e-9])
    width = label_w + bar_w + 180
    height = max(1, len(items)) * (bar_h + 6) + 8
    out = [_open(chart_id, width, height, title, desc)]
    if not items:
        out.append(f'<text x="4" y="20" fill="#545454">Nothing to show yet.</text>')
    for k, item in enumerate(items):
        y = 4 + k * (bar_h + 6)
        length = bar_w * max(0.0, item.value) / top
        fill = item.colour or (viridis(item.value / top) if colour_by_value else CATEGORY[0])
        out.append(f'<text x="4" y="{y + bar_h * 0.7:.1f}" fill="#1b1b1b">{esc(_short(item.label, 26))}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{max(length, 1):.1f}" height="{bar_h}" fill="{fill}"/>'
                   f'<text x="{label_w + length + 6:.1f}" y="{y + bar_h * 0.7:.1f}" fill="#1b1b1b">'
                   f'{esc(item.text or f"{item.value:g}")}</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_bars(chart_id: str, title: str, desc: str, rows: list[tuple[str, list[int]]], series: list[str],
                 label_w: int = 150, bar_w: int = 260, bar_h: int = 22) -> str:
    """One bar per row, split into the series (counts), with a legend; a segment wide
    enough shows its count, every count is in the data table too."""
    top = max([sum(v) for _l, v in rows] + [1])
    width = label_w + bar_w + 60
    legend_rows = (len(series) + 2) // 3
    height = max(1, len(rows)) * (bar_h + 6) + 10 + legend_rows * 20
    out = [_open(chart_id, width, height, title, desc)]
    for k, (label, values) in enumerate(rows):
        y = 4 + k * (bar_h + 6)
        out.append(f'<text x="4" y="{y + bar_h * 0.7:.1f}" fill="#1b1b1b">{esc(_short(label, 22))}</text>')
        x = float(label_w)
        for s, v in enumerate(values):
            w = bar_w * v / top
            if w <= 0:
                continue
            fill = CATEGORY[s % len(CATEGORY)]
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>')
            if w >= 18:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="middle" '
                           f'fill="{ink_on(fill)}">{v}</text>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h * 0.7:.1f}" fill="#1b1b1b">{sum(values)}</text>')
    ly = 8 + max(1, len(rows)) * (bar_h + 6)
    for s, name in enumerate(series):
        lx = 4 + (s % 3) * 120
        yy = ly + (s // 3) * 20
        out.append(f'<rect x="{lx}" y="{yy}" width="12" height="12" fill="{CATEGORY[s % len(CATEGORY)]}"/>'
                   f'<text x="{lx + 16}" y="{yy + 10}" fill="#1b1b1b">{esc(name)}</text>')
    out.append("</svg>")
    return "".join(out)


# -- lines -----------------------------------------------------------------------------

def trend(chart_id: str, title: str, desc: str, points: list[tuple[str, dict[str, float | None]]],
          series: list[tuple[str, str]], width: int = 560, height: int = 200, unit_max: float = 1.0,
          percent: bool = True) -> str:
    """Lines over days: `points` is [(day, {series key: value})], `series` [(key, label)].
    The last value of each series is printed at its end; days go along the bottom."""
    left, right, top, bottom = 44, 110, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [_open(chart_id, width, height, title, desc)]
    for k in range(5):  # gridlines at 0, 25, 50, 75, 100 %
        y = top + plot_h * (1 - k / 4)
        label = f"{k * 25}%" if percent else f"{unit_max * k / 4:g}"
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#545454">{label}</text>')
    n = len(points)
    if n == 0:
        out.append(f'<text x="{left + 8}" y="{top + plot_h / 2:.1f}" fill="#545454">No snapshots yet.</text>')
    for s, (key, label) in enumerate(series):
        colour = CATEGORY[s % len(CATEGORY)]
        coords = []
        for i, (_day, values) in enumerate(points):
            v = values.get(key)
            if v is None:
                continue
            x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
            y = top + plot_h * (1 - min(1.0, max(0.0, v / unit_max)))
            coords.append((x, y, v))
        if not coords:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v in coords)
        dash = ' stroke-dasharray="6 3"' if s % 2 else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
        for x, y, _v in coords[-1:]:
            value = f"{100 * coords[-1][2] / unit_max:.0f}%" if percent else f"{coords[-1][2]:g}"
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
                       f'<text x="{x + 6:.1f}" y="{y + 4 - 12 * s:.1f}" fill="#1b1b1b">{esc(label)} {value}</text>')
    if n:
        for i in sorted({0, n - 1}):
            x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
            out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#545454">'
                       f'{esc(points[i][0])}</text>')
    out.append("</svg>")
    return "".join(out)


# -- tables ----------------------------------------------------------------------------

def data_table(table_id: str, caption: str, header: list[str], rows: list[list[str]], raw: bool = False) -> str:
    """A plain HTML table; cells are escaped unless `raw` (caller-built, escaped HTML)."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(
        (f'<th scope="row">{c if raw else esc(c)}</th>' if k == 0 else f"<td>{c if raw else esc(c)}</td>")
        for k, c in enumerate(r)) + "</tr>" for r in rows)
    return (f'<table id="{esc(table_id)}"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")
