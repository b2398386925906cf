"""Default colours given to a newly onboarded commune.

Each pair passes WCAG AA (contrast ≥ 4.5:1 with white text); the choice depends on the
INSEE code so that neighbouring communes in a demo do not all look alike.
"""

PALETTE = [
    ("#1F4E79", "#8A3B12"),
    ("#2E5E2E", "#5B3A87"),
    ("#7A1F3D", "#1F4E79"),
    ("#5B3A87", "#2E5E2E"),
    ("#8A3B12", "#1F4E79"),
    ("#005F73", "#9B2226"),
    ("#9B2226", "#005F73"),
    ("#3D405B", "#81471E"),
]


def default_colours(insee_code: str) -> tuple[str, str]:
    digits = "".join(ch for ch in insee_code if ch.isdigit()) or "0"
    return PALETTE[int(digits) % len(PALETTE)]
