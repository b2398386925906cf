"""WCAG 2.1 contrast ratio between two sRGB colours (success criterion 1.4.3)."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
AA_NORMAL_TEXT = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    if not HEX_COLOUR.match(colour or ""):
        raise ValueError(f"{colour!r} is not a #RRGGBB colour")
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    la, lb = relative_luminance(foreground), relative_luminance(background)
    light, dark = max(la, lb), min(la, lb)
    return (light + 0.05) / (dark + 0.05)


def passes_aa(foreground: str, background: str) -> bool:
    return contrast_ratio(foreground, background) >= AA_NORMAL_TEXT
