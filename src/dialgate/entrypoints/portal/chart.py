"""A small bar-and-line chart drawn on the server as inline SVG: no script, no external file, no
style attribute, so it renders under the portal's Content-Security-Policy as it is.

Bars are one series (e.g. calls per day, left scale), the line another (e.g. spend per day,
right scale). Every bar carries a ``<title>`` (the browser's tooltip and what screen readers
read) with that day's figures, already formatted for the reader's language by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 64, 16, 28


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the day, formatted (x axis and tooltip)
    bar: Decimal
    line: Decimal
    tooltip: str  # the day's figures, formatted


def _scale(values: Sequence[Decimal]) -> Decimal:
    top = max(values, default=Decimal(0))
    return top if top > 0 else Decimal(1)


def _n(value: float) -> str:
    return f"{value:.1f}"


def svg(
    points: Sequence[Point],
    *,
    title: str,
    bar_label: str,
    line_label: str,
    bar_max_text: str,
    line_max_text: str,
    chart_id: str,
) -> Markup:
    """The chart as an ``<svg>`` element (escaped text everywhere)."""
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    count = max(len(points), 1)
    slot = inner_w / count
    bar_scale = _scale([p.bar for p in points])
    line_scale = _scale([p.line for p in points])
    parts: list[str] = [
        f'<svg id="{escape(chart_id)}" class="chart" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        # the frame: base line and the two scales' maxima
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{LEFT + inner_w}" y2="{TOP + inner_h}" '
        'stroke="#8c959f" stroke-width="1"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11" '
        f'fill="#1f6feb">{escape(bar_max_text)}</text>',
        f'<text x="{LEFT + inner_w + 6}" y="{TOP + 10}" font-size="11" '
        f'fill="#b35900">{escape(line_max_text)}</text>',
    ]
    for i, p in enumerate(points):
        h = float(p.bar / bar_scale) * inner_h
        x = LEFT + i * slot + slot * 0.15
        parts.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(TOP + inner_h - h)}" '
            f'width="{_n(max(slot * 0.7, 1))}" height="{_n(h)}" fill="#1f6feb">'
            f"<title>{escape(p.tooltip)}</title></rect>"
        )
    if points:
        coords = " ".join(
            f"{_n(LEFT + i * slot + slot / 2)},"
            f"{_n(TOP + inner_h - float(p.line / line_scale) * inner_h)}"
            for i, p in enumerate(points)
        )
        parts.append(
            f'<polyline class="line" points="{coords}" fill="none" stroke="#b35900" '
            'stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11" fill="#57606a">'
            f"{escape(points[0].label)}</text>"
        )
        parts.append(
            f'<text x="{LEFT + inner_w}" y="{HEIGHT - 8}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{escape(points[-1].label)}</text>'
        )
    # the legend
    parts.append(
        f'<rect x="{LEFT + 90}" y="{HEIGHT - 18}" width="10" height="10" fill="#1f6feb"/>'
        f'<text x="{LEFT + 104}" y="{HEIGHT - 9}" font-size="11" fill="#24292f">'
        f"{escape(bar_label)}</text>"
        f'<line x1="{LEFT + 250}" y1="{HEIGHT - 13}" x2="{LEFT + 266}" y2="{HEIGHT - 13}" '
        'stroke="#b35900" stroke-width="2"/>'
        f'<text x="{LEFT + 272}" y="{HEIGHT - 9}" font-size="11" fill="#24292f">'
        f"{escape(line_label)}</text>"
    )
    parts.append("</svg>")
    # Every text put in ``parts`` went through escape(); the rest are our own tags and numbers.
    return Markup("".join(parts))  # noqa: S704
