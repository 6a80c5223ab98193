"""Small server-rendered SVG charts (no JavaScript, no CDN): horizontal bars for a funnel and
lines for monthly trends. Text is escaped; labels come translated from the caller."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = "'Noto Sans CJK SC','WenQuanYi Zen Hei','Microsoft YaHei',system-ui,sans-serif"
COLOURS = ("#0b4f6c", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1 or value == 0 else f"{value:.2f}"


def _heading(title: str) -> str:
    return (
        f'<text x="0" y="18" font-size="15" font-weight="600" fill="#1d2733">{escape(title)}</text>'
    )


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 up to at least `top` (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1.0)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, width: int = 640, label_width: int = 190
) -> SafeString:
    """Horizontal bars, one per (label, value), longest = largest; the value beside each."""
    row, top_margin = 30, 34
    height = top_margin + row * len(items) + 10
    largest = max((value for _, value in items), default=0) or 1
    room = width - label_width - 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{FONT}" font-size="13">',
        f"<title>{escape(title)}</title>",
        _heading(title),
    ]
    for index, (label, value) in enumerate(items):
        y = top_margin + index * row
        length = max(2.0, room * value / largest) if value else 0.0
        parts += [
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" fill="#1d2733">'
            f"{escape(label)}</text>",
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 10}" '
            f'rx="2" fill="{COLOURS[0]}"><title>{escape(label)}: {_number(value)}</title></rect>',
            f'<text x="{label_width + length + 6:.1f}" y="{y + 17}" fill="#1d2733">'
            f"{_number(value)}</text>",
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def line_chart(
    months: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 640,
    height: int = 260,
) -> SafeString:
    """One line per (label, values) over the months, with a y axis, month ticks and a legend."""
    left, right, top, bottom = 56, 16, 56, 34
    plot_width, plot_height = width - left - right, height - top - bottom
    ticks = nice_ticks(max((max(values, default=0) for _, values in series), default=0))
    ceiling = ticks[-1] or 1
    step = plot_width / max(1, len(months) - 1)

    def x(index: int) -> float:
        return left + index * step

    def y(value: float) -> float:
        return top + plot_height - plot_height * value / ceiling

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{FONT}" font-size="12">',
        f"<title>{escape(title)}</title>",
        _heading(title),
    ]
    legend_x = 0.0
    for index, (label, _values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        parts += [
            f'<rect x="{legend_x:.0f}" y="30" width="12" height="12" fill="{colour}"/>',
            f'<text x="{legend_x + 17:.0f}" y="40.5" fill="#1d2733">{escape(label)}</text>',
        ]
        legend_x += 30 + 13 * len(label)
    for tick in ticks:
        parts += [
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#d9dee3"/>',
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#5b6673">'
            f"{_number(tick)}</text>",
        ]
    for index, month in enumerate(months):
        parts.append(
            f'<text x="{x(index):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
            f'fill="#5b6673">{escape(month[2:])}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_height}" stroke="#5b6673"/>'
    )
    for index, (label, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        for i, value in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(label)} {escape(months[i])}: {_number(value)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
