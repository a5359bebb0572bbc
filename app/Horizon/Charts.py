"""Server-rendered SVG line charts: no chart library, no network, values escaped by construction (numbers only)."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 160, 52, 22, 10


def seconds_label(value: float) -> str:
    """Show a duration compactly (850ms, 12.3s, 4m05s)."""
    if value < 1:
        return f"{value * 1000:.0f}ms" if value >= 0.001 else f"{value * 1e6:.0f}µs" if value > 0 else "0s"
    if value < 60:
        return f"{value:.1f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def count_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(points: Sequence[dict[str, Any]], keys: Sequence[str], title: str,
               fmt: Callable[[float], str] = count_label) -> Markup:
    """Draw one polyline per key over points' `t` (unix minute), y from 0 to the max value."""
    if not points:
        return Markup('<p class="empty">No data yet.</p>')
    values = [float(p.get(k) or 0) for p in points for k in keys]
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD_LEFT + i * step, PAD_TOP + plot_h - (v / top) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>']
    for frac in (0, 0.5, 1):
        y = PAD_TOP + plot_h - frac * plot_h
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(top * frac))}</text>')
    for i, anchor in ((0, "start"), (len(points) // 2, "middle"), (len(points) - 1, "end")):
        label = time.strftime("%H:%M", time.localtime(float(points[i]["t"])))
        parts.append(f'<text class="axis" x="{xy(i, 0)[0]:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">{label}</text>')
    for n, key in enumerate(keys):
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, float(p.get(key) or 0)) for i, p in enumerate(points)))
        parts.append(f'<polyline class="series s{n}" points="{coords}"/>')
        for i, p in enumerate(points):
            v = float(p.get(key) or 0)
            if v:
                x, y = xy(i, v)
                label = time.strftime("%H:%M", time.localtime(float(p["t"])))
                parts.append(f'<circle class="dot s{n}" cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{label} {escape(key)}: '
                             f'{escape(fmt(v))}</title></circle>')
    parts.append("</svg>")
    legend = "".join(f'<span class="legend s{n}">{escape(k)}</span>' for n, k in enumerate(keys)) if len(keys) > 1 else ""
    return Markup(f'<figure class="chart-box"><figcaption>{escape(title)} {legend}</figcaption>{"".join(parts)}</figure>')
