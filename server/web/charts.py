"""Charts drawn on the server as inline SVG: no JavaScript, no network, readable when printed."""

from __future__ import annotations

from markupsafe import Markup, escape

from hoixa.server.stats import DayCount


def bars_per_day(days: list[DayCount], *, width: int = 900, height: int = 260) -> Markup:
    """Questions per day as vertical bars, with the highest value and first/last day labelled."""
    if not days:
        return Markup('<p class="empty">Chưa có dữ liệu trong khoảng thời gian này.</p>')
    top = max(d.questions for d in days) or 1
    left, bottom, top_pad = 50, 30, 20
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    step = plot_w / len(days)
    bar_w = max(step * 0.8, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Số câu hỏi mỗi ngày" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 6}" y="{top_pad + 6}" text-anchor="end" font-size="14">{top}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" font-size="14">0</text>',
    ]
    for i, d in enumerate(days):
        h = plot_h * d.questions / top
        x = left + i * step + (step - bar_w) / 2
        y = top_pad + plot_h - h
        label = escape(f"{d.day:%d/%m/%Y}: {d.questions} câu hỏi, {d.conversations} lượt")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#1f6fb2">'
            f"<title>{label}</title></rect>"
        )
    for d, anchor, x in ((days[0], "start", left), (days[-1], "end", width - 10)):
        parts.append(
            f'<text x="{x}" y="{height - 8}" text-anchor="{anchor}" font-size="14">'
            f"{d.day:%d/%m/%Y}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
