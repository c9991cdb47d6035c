"""A small SVG chart renderer: bar charts and line charts, drawn on the server.

Amounts are integers in minor units; the axis ticks fall on round amounts of major units
(1, 2 or 5 times a power of ten) and are labelled in major units. Floats are used only for
pixel coordinates. Every bar and point carries a ``<title>`` (a tooltip in browsers) with its
exact amount. The output is standalone SVG (it parses as XML) and can be inlined in HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ledger import format_minor
from ledger.currencies import exponent as currency_exponent

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 40, 56
TICKS = 5
LABEL_CHARS = 16
VALUE_LABELS_UP_TO = 14
INK, GRID, BAR, LINE = "#1d2433", "#d9dee8", "#2456d6", "#2456d6"


@dataclass(frozen=True)
class Datum:
    label: str  # on the horizontal axis
    amount: int  # minor units
    note: str = ""  # more for the tooltip


def money(amount: int, currency: str) -> str:
    return f"{format_minor(amount, currency, grouped=True)} {currency}"


def tick_step(largest: int, currency: str) -> int:
    """A round step (minor units) so that ``TICKS`` steps or fewer cover ``largest``."""
    step = 10 ** currency_exponent(currency)
    while step * TICKS < largest:
        step = _next_round(step)
    return step


def _next_round(step: int) -> int:
    """1 -> 2 -> 5 -> 10 -> 20 ... times a power of ten."""
    digits = str(step)
    lead, zeros = int(digits[0]), len(digits) - 1
    return {1: 2, 2: 5, 5: 10}[lead] * 10**zeros


def tick_label(amount: int, currency: str) -> str:
    """Major units, grouped; no fraction for a whole amount (1500000 USD -> '15,000')."""
    unit = 10 ** currency_exponent(currency)
    text = format_minor(amount, currency, grouped=True)
    return text.split(".")[0] if amount % unit == 0 else text


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _frame(title: str, currency: str, largest: int, smallest: int = 0) -> tuple[list[str], object]:
    """The chart's outline, title, grid and value axis; returns the parts and y(amount)."""
    step = tick_step(max(largest, -smallest, 1), currency)
    top = -(-max(largest, 0) // step) * step or step
    bottom = -(-max(-smallest, 0) // step) * step * -1
    plot_h = HEIGHT - TOP - BOTTOM

    def y(amount: int) -> float:
        return TOP + plot_h * (top - amount) / (top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="600" fill="{INK}" '
        f'class="chart-title">{escape(title)}</text>',
        f'<text x="{WIDTH - RIGHT}" y="22" text-anchor="end" fill="{INK}">{escape(currency)}'
        "</text>",
    ]
    tick = bottom
    while tick <= top:
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
            f'stroke="{INK if tick == 0 else GRID}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="{INK}" '
            f'class="tick">{escape(tick_label(tick, currency))}</text>'
        )
        tick += step
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="{INK}" '
        'class="axis"/>'
    )
    return parts, y


def _x_label(x: float, text: str, full: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="{INK}" '
        f'class="label"><title>{escape(full)}</title>{escape(text)}</text>'
    )


def _value(x: float, y: float, amount: int, currency: str, anchor: str = "middle") -> str:
    """The amount written by a bar or a point, in major units."""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}" font-size="11" '
        f'class="value">{escape(tick_label(amount, currency))}</text>'
    )


def _empty(title: str, message: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 80" width="{WIDTH}" '
        f'height="80" role="img" class="chart" font-family="system-ui, sans-serif" '
        f'font-size="12"><title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="600" fill="{INK}" '
        f'class="chart-title">{escape(title)}</text>'
        f'<text x="{LEFT}" y="52" fill="{INK}" class="empty">{escape(message)}</text></svg>'
    )


def bar_chart(title: str, data: Sequence[Datum], currency: str, empty: str = "") -> Markup:
    """One bar per datum, labelled below (every few bars when crowded)."""
    if not data:
        return _empty(title, empty or "Nothing to show yet.")
    parts, y = _frame(title, currency, max(d.amount for d in data), min(d.amount for d in data))
    slot = (WIDTH - LEFT - RIGHT) / len(data)
    width = min(56.0, max(2.0, slot * 0.7))
    label_every = max(1, round(len(data) * 70 / (WIDTH - LEFT - RIGHT)))
    for index, datum in enumerate(data):
        x = LEFT + slot * index + (slot - width) / 2
        y0, y1 = sorted((y(0), y(datum.amount)))
        tip = f"{datum.label}: {money(datum.amount, currency)}"
        if datum.note:
            tip += f" ({datum.note})"
        parts.append(
            f'<rect x="{x:.1f}" y="{y0:.1f}" width="{width:.1f}" height="{y1 - y0:.1f}" '
            f'fill="{BAR}" class="bar" data-amount="{datum.amount}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if index % label_every == 0:
            parts.append(_x_label(x + width / 2, _short(datum.label), datum.label))
        if datum.amount and len(data) <= VALUE_LABELS_UP_TO:
            parts.append(_value(x + width / 2, y0 - 5, datum.amount, currency))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, data: Sequence[Datum], currency: str, empty: str = "") -> Markup:
    """A line through the data, a point on each with its tooltip, a few labels below."""
    if not data:
        return _empty(title, empty or "Nothing to show yet.")
    parts, y = _frame(title, currency, max(d.amount for d in data), min(d.amount for d in data))
    span = WIDTH - LEFT - RIGHT - 16
    gap = span / max(1, len(data) - 1)

    def x(index: int) -> float:
        return LEFT + 8 + gap * index

    path = " ".join(f"{x(i):.1f},{y(d.amount):.1f}" for i, d in enumerate(data))
    parts.append(
        f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2" class="line"/>'
    )
    label_every = max(1, -(-len(data) // 6))
    for index, datum in enumerate(data):
        tip = f"{datum.label}: {money(datum.amount, currency)}"
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(datum.amount):.1f}" r="3" fill="{LINE}" '
            f'class="point" data-amount="{datum.amount}"><title>{escape(tip)}</title></circle>'
        )
        if index % label_every == 0:
            parts.append(_x_label(x(index), _short(datum.label), datum.label))
    last = len(data) - 1
    anchor = "end" if last else "start"
    parts.append(_value(x(last), y(data[last].amount) - 8, data[last].amount, currency, anchor))
    parts.append("</svg>")
    return Markup("".join(parts))
