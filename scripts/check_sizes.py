"""House limits (issue 18), checked in the lint gate: no Python module over 500 lines, no TypeScript
module over 450, and the AttentionWidget class itself at most 300 lines (its work is delegated)."""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMITS = {"attn_widget": ("*.py", 500), "js": ("*.ts", 450)}
WIDGET = ROOT / "attn_widget" / "widget" / "attention_widget.py"
WIDGET_LIMIT = 300


def too_long() -> list[str]:
    found = []
    for folder, (pattern, limit) in LIMITS.items():
        for path in sorted((ROOT / folder).rglob(pattern)):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {limit})")
    tree = ast.parse(WIDGET.read_text(encoding="utf-8"))
    widget = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AttentionWidget")
    lines = (widget.end_lineno or widget.lineno) - widget.lineno + 1
    if lines > WIDGET_LIMIT:
        found.append(f"class AttentionWidget: {lines} lines (at most {WIDGET_LIMIT})")
    return found


if __name__ == "__main__":
    problems = too_long()
    print("\n".join(problems) or "module sizes: within the house limits")
    sys.exit(1 if problems else 0)
