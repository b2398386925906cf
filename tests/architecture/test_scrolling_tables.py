"""A table wider than a phone scrolls inside its ``table-wrap``; a keyboard user must be
able to reach it to scroll it (axe-core's scrollable-region-focusable), so every such
wrapper in our templates takes the focus. Checked on the sources: a browser test sees
only the pages it walks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = re.compile(r"<div\b[^>]*\bclass=\"[^\"]*\btable-wrap\b[^\"]*\"[^>]*>")


def test_every_scrolling_table_takes_the_keyboard_focus():
    templates = [*ROOT.glob("platform/opsn/**/templates/**/*.html"),
                 *ROOT.glob("tenants/opsn/**/templates/**/*.html")]
    found, missing = 0, []
    for template in templates:
        for tag in WRAPPER.findall(template.read_text(encoding="utf-8")):
            found += 1
            if 'tabindex="0"' not in tag:
                missing.append(f"{template.relative_to(ROOT)}: {tag}")
    assert found > 20  # the check looks where the tables are
    assert missing == []
