"""Inline SVG charts for the experiment page, drawn on the server: a bar chart
of win rates (ties included) and a histogram of trial scores per variant.
Every label goes through `escape`; the markup is then safe to inline."""
from __future__ import annotations

from typing import Any, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#6d5ef5", "#e0872b", "#1f9d74", "#d64a6b", "#3a8fd9", "#8a6d3b", "#7b7b7b", "#b44fc9", "#2bb0b5", "#9aa13a"]
TIE_COLOUR = "#b8bcc6"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def win_rate_bars(rows: Sequence[tuple[str, float, int]], width: int = 520) -> SafeString:
    """Horizontal bars: (label, rate 0..1, count) each; the label "Ties" is grey."""
    bar_h, gap, left, right = 26, 10, 90, 110
    height = len(rows) * (bar_h + gap) + gap
    span = width - left - right
    parts = [f'<svg class="chart win-rates" role="img" aria-label="Win rates" viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for index, (label, rate, count) in enumerate(rows):
        y = gap + index * (bar_h + gap)
        fill = TIE_COLOUR if label == "Ties" else colour(index)
        w = max(0.0, min(1.0, rate)) * span
        parts.append(
            f'<g class="bar"><title>{escape(label)}: {count} ({rate:.0%})</title>'
            f'<text x="{left - 8}" y="{y + bar_h * 0.68:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{span}" height="{bar_h}" class="track"/>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
            f'<text x="{left + span + 8}" y="{y + bar_h * 0.68:.1f}">{rate:.0%} ({count})</text></g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def score_histograms(series: Sequence[tuple[str, Sequence[float]]], bins: int = 10, width: int = 520) -> SafeString:
    """One row of bars per variant: how many trials scored in each tenth of 0..1."""
    row_h, gap, left, right, axis = 60, 14, 90, 20, 18
    height = len(series) * (row_h + gap) + axis + gap
    span = width - left - right
    bin_w = span / bins
    parts = [f'<svg class="chart score-distribution" role="img" aria-label="Score distributions" viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for index, (label, scores) in enumerate(series):
        counts = [0] * bins
        for score in scores:
            counts[min(bins - 1, max(0, int(score * bins)))] += 1
        top = max(counts) or 1
        y0 = gap + index * (row_h + gap)
        parts.append(f'<g class="histogram"><text x="{left - 8}" y="{y0 + row_h * 0.6:.1f}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<line x1="{left}" y1="{y0 + row_h}" x2="{left + span}" y2="{y0 + row_h}" class="baseline"/>')
        for b, count in enumerate(counts):
            if not count:
                continue
            h = row_h * count / top
            low, high = b / bins, (b + 1) / bins
            parts.append(
                f'<rect x="{left + b * bin_w + 1:.1f}" y="{y0 + row_h - h:.1f}" width="{bin_w - 2:.1f}" height="{h:.1f}" fill="{colour(index)}">'
                f'<title>{escape(label)}: {count} trial{"s" if count != 1 else ""} scored {low:.1f}–{high:.1f}</title></rect>'
            )
        parts.append("</g>")
    y_axis = len(series) * (row_h + gap) + gap + 12
    for tick in (0, 0.5, 1):
        parts.append(f'<text x="{left + tick * span:.1f}" y="{y_axis}" text-anchor="middle" class="tick">{tick:g}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def figures(report: dict[str, Any]) -> dict[str, SafeString]:
    stats = report["stats"]
    cases = stats["cases"]
    rows = [(v["label"], v["summary"]["win_rate"], v["summary"]["wins"]) for v in report["variants"]]
    rows.append(("Ties", stats["tie_rate"], stats["ties"]))
    if not cases:
        rows = [(label, 0.0, 0) for label, _, _ in rows]
    series = [(v["label"], v["scores"]) for v in report["variants"]]
    return {"win_rates": win_rate_bars(rows), "distributions": score_histograms(series)}
