"""Charts as inline SVG, drawn on the server: no script, nothing fetched, readable by a screen
reader through their titles and the tables beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

#: Distinct for the colour-blind (Okabe and Ito's palette); scopes beyond it repeat it.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT, LEFT, BOTTOM = 720, 240, 48, 36


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_months(months: Sequence[str], per_scope: Mapping[str, Sequence[int]]) -> Markup:
    """Memories stored each month, one colour a scope, stacked."""
    if not months:
        return Markup('<p class="quiet">Nothing stored yet.</p>')
    totals = [sum(counts[i] for counts in per_scope.values()) for i in range(len(months))]
    top = max(totals) or 1
    slot = (WIDTH - LEFT) / len(months)
    bar = min(48.0, max(2.0, slot * 0.7))
    plot = HEIGHT - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="months-title">',
        '<title id="months-title">Memories stored per month, by scope</title>',
        f'<line x1="{LEFT}" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#888"/>',
        f'<text x="{LEFT - 6}" y="12" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{LEFT - 6}" y="{plot}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, month in enumerate(months):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(plot)
        for index, (scope, counts) in enumerate(per_scope.items()):
            if not counts[i]:
                continue
            height = counts[i] / top * (plot - 8)
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}"'
                f' fill="{colour(index)}">'
                f"<title>{escape(scope)}, {escape(month)}: {counts[i]}</title></rect>"
            )
        if len(months) <= 12 or i % max(1, len(months) // 12) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{plot + 16}" text-anchor="middle" font-size="11">'
                f"{escape(month)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(values: Mapping[str, int], title: str) -> Markup:
    """One horizontal bar a kind, with its count."""
    top = max(values.values(), default=0) or 1
    row, label_width = 28, 110
    height = row * len(values) + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, count) in enumerate(values.items()):
        y = 4 + index * row
        width = count / top * (WIDTH - label_width - 80)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y + 4}" width="{width:.1f}" height="18" fill="{colour(index)}"/>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 17}" font-size="13">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
