"""Small drawing kit over skia-python shared by the avatar modules (design space: 512 x 512 units)."""

from __future__ import annotations

import skia

DESIGN = 512.0


def color(value: str | int, alpha: float = 1.0) -> int:
    """``"#rrggbb"`` (or an ``int`` already) -> skia colour, with ``alpha`` in 0..1."""
    if isinstance(value, int):
        return value
    text = value.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"colour must be #rrggbb, got {value!r}")
    r, g, b = int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    return skia.Color(r, g, b, max(0, min(255, round(alpha * 255))))


def shade(value: str, factor: float, alpha: float = 1.0) -> int:
    """``value`` darkened (factor < 1) or lightened towards white (factor > 1)."""
    text = value.lstrip("#")
    rgb = [int(text[i:i + 2], 16) for i in (0, 2, 4)]
    if factor <= 1:
        rgb = [round(c * factor) for c in rgb]
    else:
        rgb = [round(c + (255 - c) * (factor - 1)) for c in rgb]
    return skia.Color(*[max(0, min(255, c)) for c in rgb], max(0, min(255, round(alpha * 255))))


def fill(col: int) -> skia.Paint:
    return skia.Paint(AntiAlias=True, Color=col)


def stroke(col: int, width: float, cap: bool = True) -> skia.Paint:
    return skia.Paint(AntiAlias=True, Color=col, Style=skia.Paint.kStroke_Style, StrokeWidth=width,
                      StrokeCap=skia.Paint.kRound_Cap if cap else skia.Paint.kButt_Cap,
                      StrokeJoin=skia.Paint.kRound_Join)


def linear(x0: float, y0: float, x1: float, y1: float, colors: list[int]) -> skia.Paint:
    shader = skia.GradientShader.MakeLinear([skia.Point(x0, y0), skia.Point(x1, y1)], colors)
    return skia.Paint(AntiAlias=True, Shader=shader)


def radial(cx: float, cy: float, r: float, colors: list[int]) -> skia.Paint:
    shader = skia.GradientShader.MakeRadial(skia.Point(cx, cy), r, colors)
    return skia.Paint(AntiAlias=True, Shader=shader)


def oval(cx: float, cy: float, rx: float, ry: float) -> skia.Rect:
    return skia.Rect.MakeLTRB(cx - rx, cy - ry, cx + rx, cy + ry)


def poly(points: list[tuple[float, float]], smooth: bool = False) -> skia.Path:
    """Closed path through ``points``; ``smooth`` rounds it with quadratic curves through the midpoints."""
    path = skia.Path()
    if not smooth:
        path.moveTo(*points[0])
        for p in points[1:]:
            path.lineTo(*p)
        path.close()
        return path
    n = len(points)
    mids = [((points[i][0] + points[(i + 1) % n][0]) / 2, (points[i][1] + points[(i + 1) % n][1]) / 2)
            for i in range(n)]
    path.moveTo(*mids[-1])
    for i in range(n):
        path.quadTo(points[i][0], points[i][1], mids[i][0], mids[i][1])
    path.close()
    return path


def blob(cx: float, cy: float, rx: float, ry: float, *, top: float = 1.0, bottom: float = 1.0,
         jaw: float = 1.0) -> skia.Path:
    """A head-like closed shape: an ellipse whose top/bottom halves are scaled and whose lower
    sides are pulled in (``jaw`` < 1 gives a narrower chin, > 1 a square jaw)."""
    k = 0.5523
    path = skia.Path()
    path.moveTo(cx - rx, cy)
    path.cubicTo(cx - rx, cy - ry * top * k, cx - rx * k, cy - ry * top, cx, cy - ry * top)
    path.cubicTo(cx + rx * k, cy - ry * top, cx + rx, cy - ry * top * k, cx + rx, cy)
    path.cubicTo(cx + rx, cy + ry * bottom * k * jaw, cx + rx * k * jaw, cy + ry * bottom, cx, cy + ry * bottom)
    path.cubicTo(cx - rx * k * jaw, cy + ry * bottom, cx - rx, cy + ry * bottom * k * jaw, cx - rx, cy)
    path.close()
    return path
