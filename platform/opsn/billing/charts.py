"""Horizontal bar charts as inline SVG: drawn on the server, readable without JavaScript,
with a text alternative (each chart comes with its data table in the page)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.text import slugify

from opsn.kernel.money import format_cents


@dataclass(frozen=True)
class Bar:
    label: str
    paid_cents: int
    unpaid_cents: int

    @property
    def total_cents(self) -> int:
        return self.paid_cents + self.unpaid_cents


PAID = "#18753C"     # 5.1:1 on white
UNPAID = "#B3141B"   # 6.3:1 on white


def bar_chart(title: str, bars: list[Bar], width: int = 640) -> str:
    title_id = f"chart-{slugify(title)}"

    label_width, row, top = 190, 26, 8
    biggest = max((b.total_cents for b in bars), default=0) or 1
    plot = width - label_width - 110
    height = top + row * len(bars) + 8
    parts = [f'<svg role="img" aria-labelledby="{title_id}" viewBox="0 0 {width} {height}" '
             f'width="100%" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif"'
             f' font-size="12"><title id="{title_id}">{escape(title)}</title>']
    for i, bar in enumerate(bars):
        y = top + i * row
        paid = plot * bar.paid_cents // biggest
        unpaid = plot * bar.unpaid_cents // biggest
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">'
                     f'{escape(bar.label[:28])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{paid}" height="16" '
                     f'fill="{PAID}"><title>payé {format_cents(bar.paid_cents)}</title></rect>')
        parts.append(f'<rect x="{label_width + paid}" y="{y + 3}" width="{unpaid}" height="16" '
                     f'fill="{UNPAID}"><title>à payer {format_cents(bar.unpaid_cents)}</title>'
                     "</rect>")
        parts.append(f'<text x="{label_width + paid + unpaid + 6}" y="{y + 15}">'
                     f"{format_cents(bar.total_cents)}</text>")
    parts.append("</svg>")
    return "".join(parts)


AMOUNT = "#000091"   # 15.3:1 on white


def amount_chart(title: str, bars: list[tuple[str, int]], width: int = 640) -> str:
    """One bar per label, for amounts not yet paid nor owed (the preview before issuing)."""
    title_id = f"chart-{slugify(title)}"
    label_width, row, top = 190, 26, 8
    biggest = max((cents for _, cents in bars), default=0) or 1
    plot = width - label_width - 110
    height = top + row * len(bars) + 8
    parts = [f'<svg role="img" aria-labelledby="{title_id}" viewBox="0 0 {width} {height}" '
             f'width="100%" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif"'
             f' font-size="12"><title id="{title_id}">{escape(title)}</title>']
    for i, (label, cents) in enumerate(bars):
        y = top + i * row
        size = plot * max(cents, 0) // biggest
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">'
                     f'{escape(label[:28])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{size}" height="16" '
                     f'fill="{AMOUNT}"><title>{escape(label)} : {format_cents(cents)}</title>'
                     "</rect>")
        parts.append(f'<text x="{label_width + size + 6}" y="{y + 15}">'
                     f"{format_cents(cents)}</text>")
    parts.append("</svg>")
    return "".join(parts)
