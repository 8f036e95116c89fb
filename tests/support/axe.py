"""axe-core in a Chromium page: the npm devDependency's axe.min.js injected as the page's own script
(never a CDN), run on one element, its serious and critical violations returned."""

from __future__ import annotations

import pathlib
from typing import Any

AXE = pathlib.Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Any, selector: str = "[data-testid=attn-widget]") -> list[dict[str, Any]]:
    """axe's violations of impact serious or critical inside the first element matching
    ``selector``: rule id, impact, and the first three offending elements' HTML."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async (selector) => {
          const r = await axe.run(document.querySelector(selector), {resultTypes: ['violations']});
          return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map((n) => n.html).slice(0, 3)}));
        }""",
        selector,
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]
