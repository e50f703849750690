"""Server-rendered SVG charts: no JavaScript, no library, nothing from a CDN.

Every string that reaches the SVG (event types come from the network, titles name organizations) goes through
format_html, so it is escaped; numbers are formatted here.
"""

from collections.abc import Sequence
from datetime import datetime
from math import ceil, log10

from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 600
LEFT, RIGHT, TOP = 48, 24, 14
PLOT_HEIGHT = 170
AXIS_HEIGHT = 30
LEGEND_LINE = 20
MAX_X_LABELS = 6
# Dark enough for 3:1 against white; every series also has its own dash pattern, so colour is not the only cue.
COLOURS = ("#0b5cad", "#c2410c", "#146c2e", "#7b2d9b", "#a4161a", "#5c4a00", "#1b1f24")
DASHES = ("", "7 3", "2 3", "9 3 2 3", "4 4", "1 3", "12 4")
LEGEND_TEXT_LIMIT = 60


def nice_ceiling(value: int) -> tuple[int, int]:
    """The top of the y axis and its tick step: 1, 2 or 5 times a power of ten, four or five ticks."""
    if value <= 0:
        return 4, 1
    raw_step = value / 4
    magnitude = 10 ** int(log10(raw_step)) if raw_step >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = max(1, factor * magnitude)
        if step * 4 >= value and step >= raw_step:
            return step * ceil(value / step), step
    return value, max(1, value // 4)  # not reached: factor 10 always fits


def _n(value: float) -> str:
    """A coordinate, to a tenth of a unit (format_html escapes its arguments to text, so numbers are written here)."""
    return f"{value:.1f}"


def _label(moment: datetime, date_format: str) -> str:
    return dateformat.format(timezone.localtime(moment), date_format)


def _short(text: str) -> str:
    return text if len(text) <= LEGEND_TEXT_LIMIT else text[: LEGEND_TEXT_LIMIT - 1] + "…"


def events_chart_svg(
    *,
    chart_id: str,
    title: str,
    description: str,
    buckets: Sequence[datetime],
    series: Sequence[tuple[str, Sequence[int]]],
    date_format: str,
) -> SafeString:
    """A line chart of counts per bucket, one line per series, with axes and a legend, as an escaped SVG string."""
    plot_width = WIDTH - LEFT - RIGHT
    bottom = TOP + PLOT_HEIGHT
    height = bottom + AXIS_HEIGHT + LEGEND_LINE * max(len(series), 1) + 6
    top_value, step = nice_ceiling(max((max(counts, default=0) for _, counts in series), default=0))
    slots = max(len(buckets) - 1, 1)

    def x(i: int) -> float:
        return LEFT + plot_width * i / slots

    def y(value: int) -> float:
        return bottom - PLOT_HEIGHT * value / top_value

    grid = format_html_join(
        "",
        '<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="#d3d9e0"/>'
        '<text x="{3}" y="{4}" text-anchor="end" font-size="12" fill="#4a5561">{5}</text>',
        ((LEFT, WIDTH - RIGHT, _n(y(v)), LEFT - 6, _n(y(v) + 4), v) for v in range(0, top_value + 1, step)),
    )
    every = max(1, ceil(len(buckets) / MAX_X_LABELS))
    x_labels = format_html_join(
        "",
        '<text x="{0}" y="{1}" text-anchor="middle" font-size="12" fill="#4a5561">{2}</text>',
        ((_n(x(i)), bottom + 18, _label(b, date_format)) for i, b in enumerate(buckets) if i % every == 0),
    )
    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{0}" stroke-width="2" stroke-dasharray="{1}" points="{2}"><title>{3}</title>'
        "</polyline>",
        (
            (
                COLOURS[n % len(COLOURS)],
                DASHES[n % len(DASHES)] or "none",
                " ".join(f"{_n(x(i))},{_n(y(v))}" for i, v in enumerate(counts)),
                name,
            )
            for n, (name, counts) in enumerate(series)
        ),
    )
    legend_top = bottom + AXIS_HEIGHT + 8
    legend = format_html_join(
        "",
        '<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="{3}" stroke-width="3" stroke-dasharray="{4}"/>'
        '<text x="{5}" y="{6}" font-size="13" fill="#1b1f24">{7} ({8})</text>',
        (
            (
                LEFT,
                LEFT + 28,
                legend_top + LEGEND_LINE * n,
                COLOURS[n % len(COLOURS)],
                DASHES[n % len(DASHES)] or "none",
                LEFT + 36,
                legend_top + LEGEND_LINE * n + 4,
                _short(name),
                sum(counts),
            )
            for n, (name, counts) in enumerate(series)
        ),
    )
    if not series:
        legend = format_html(
            '<text x="{}" y="{}" font-size="12" fill="#4a5561">No events in this range</text>', LEFT, legend_top + 4
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" '
        'height="{height}" aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        "{grid}{x_labels}"
        '<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#4a5561"/>'
        '<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#4a5561"/>'
        "{lines}{legend}</svg>",
        width=WIDTH,
        height=height,
        id=chart_id,
        title=title,
        desc=description,
        grid=grid,
        x_labels=x_labels,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=bottom,
        lines=lines,
        legend=legend,
    )
