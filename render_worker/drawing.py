"""Vector drawing of the animated features (eyes, brows, mouth) with skia, in design units."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import color, fill, shade, stroke
from render_worker.avatars.spec import FaceGeometry
from render_worker.face import Expression


class FeaturePainter:
    """Paints and sizes prepared once per avatar; :meth:`draw` paints one frame's features."""

    def __init__(self, geo: FaceGeometry, palette: dict) -> None:
        self.geo = geo
        p = palette
        self.sclera = fill(color(p["sclera"]))
        self.iris = fill(color(p["iris"]))
        self.iris_ring = stroke(shade(p["iris"], 0.55), 1.6)
        self.pupil = fill(color(p["pupil"]))
        self.glint = fill(skia.Color(255, 255, 255, 230))
        self.lid_line = stroke(color(p["outline"]), 3.2)
        self.lid_low_line = stroke(color(p["outline"], 0.35), 1.6)
        self.lash = stroke(color(p["outline"]), 2.4)
        self.brow = stroke(color(p["brows"]), geo.brow_w)
        self.lips = fill(color(p["lips"]))
        self.lip_shine = stroke(shade(p["lips"], 1.35, 0.7), 2.0)
        self.seam = stroke(shade(p["lips"], 0.45), 2.4)
        self.inside = fill(color(p["mouth"]))
        self.teeth = fill(color(p["teeth"]))
        self.tongue = fill(color(p["tongue"]))
        self.crease = stroke(color(p["skin_shade"], 0.8), 2.0)

    # -- eyes and brows -------------------------------------------------------------------------
    def _eye(self, c: skia.Canvas, cx: float, cy: float, inner: float, open_u: float, open_l: float,
             tilt: float, gx: float, gy: float, pupil: float) -> None:
        g = self.geo
        rx, ry = g.eye_rx, g.eye_ry
        hu, hl = ry * open_u, ry * open_l
        t_in, t_out = tilt * ry * 0.55, -tilt * ry * 0.15
        # control point heights for the inner / outer halves of the upper lid
        ux_in, ux_out = cx + inner * rx * 0.6, cx - inner * rx * 0.6
        upper = skia.Path()
        upper.moveTo(cx - inner * rx, cy)
        upper.cubicTo(ux_out, cy - hu * 1.33 + t_out, ux_in, cy - hu * 1.33 + t_in, cx + inner * rx, cy)
        if hu + hl < 1.0:
            closed = skia.Path()
            closed.moveTo(cx - rx, cy)
            closed.quadTo(cx, cy + ry * 0.25, cx + rx, cy)
            c.drawPath(closed, self.lid_line)
            return
        shape = skia.Path(upper)
        shape.cubicTo(cx + inner * rx * 0.6, cy + hl * 1.33, cx - inner * rx * 0.6, cy + hl * 1.33, cx - inner * rx, cy)
        shape.close()
        c.save()
        c.clipPath(shape, doAntiAlias=True)
        c.drawPaint(self.sclera)
        ix, iy = cx + gx * rx * 0.42, cy + gy * ry * 0.4
        c.drawCircle(ix, iy, g.iris_r, self.iris)
        c.drawCircle(ix, iy, g.iris_r - 0.8, self.iris_ring)
        c.drawCircle(ix, iy, g.pupil_r * pupil, self.pupil)
        c.drawCircle(ix + g.iris_r * 0.35, iy - g.iris_r * 0.4, g.iris_r * 0.22, self.glint)
        c.restore()
        c.drawPath(upper, self.lid_line)
        lower = skia.Path()
        lower.moveTo(cx - rx * 0.8, cy + hl * 0.45)
        lower.quadTo(cx, cy + hl * 1.05, cx + rx * 0.8, cy + hl * 0.45)
        c.drawPath(lower, self.lid_low_line)
        if g.lashes > 0:
            ox = cx - inner * rx
            for k in range(3):
                dx = -inner * (6 + 3 * k) * g.lashes
                c.drawLine(ox + inner * 3 * k, cy - 2 - 2 * k, ox + dx, cy - 8 - 5 * k * g.lashes, self.lash)

    def _brow(self, c: skia.Canvas, cx: float, cy: float, inner: float, raise_: float, tilt: float) -> None:
        g = self.geo
        y = cy - g.brow_gap - raise_ * 10.0
        half = g.brow_len / 2
        xi, xo = cx + inner * half, cx - inner * half * 1.05
        yi, yo = y + tilt * 9.0, y - tilt * 2.5 + 3.0
        path = skia.Path()
        path.moveTo(xo, yo)
        path.quadTo(cx, y - 7.0 + abs(tilt) * 3.0, xi, yi)
        c.drawPath(path, self.brow)

    def eyes(self, c: skia.Canvas, expr: Expression, blink: float, gx: float, gy: float) -> None:
        g = self.geo
        open_u = max(0.0, expr.eye_open * (1.0 - blink))
        open_l = max(0.0, (0.85 - expr.lid_low * 0.55) * (1.0 - blink))
        for side in (-1, 1):  # -1: the eye on the left of the picture; its inner corner points right
            cx = g.mouth_x + side * g.eye_dx
            self._eye(c, cx, g.eye_y, -side, open_u, open_l, expr.brow_tilt * 0.6, gx, gy, expr.pupil)
            self._brow(c, cx, g.eye_y, -side, expr.brow_raise, expr.brow_tilt)

    # -- mouth -----------------------------------------------------------------------------------
    def mouth(self, c: skia.Canvas, m, smile: float) -> None:  # noqa: ANN001 - a row of MOUTH_KEYS
        jaw, spread, rnd, press, tuck, teeth_up, teeth_lo, tongue_up, tongue_out = (float(v) for v in m)
        g = self.geo
        x0, y0 = g.mouth_x, g.mouth_y
        hw = g.mouth_w * (1 + 0.24 * spread - 0.3 * rnd) * (1 - 0.08 * press)
        cy = y0 - smile * 7.0 * (1 - 0.5 * rnd)
        open_h = g.mouth_open * max(0.0, jaw)
        y_u = y0 - open_h * 0.22
        y_l = y0 + open_h * 0.78
        a = 0.5 + 0.5 * rnd

        def ctl(mid: float) -> float:  # a cubic's control height so that its midpoint lands on mid
            return (mid - 0.25 * cy) / 0.75

        lt_u = g.lip_t * (1 + 0.35 * rnd - 0.25 * spread) * (1 - 0.35 * press)
        lt_l = g.lip_t * 1.3 * (1 + 0.3 * rnd - 0.2 * spread) * (1 - 0.3 * press) * (1 - 0.35 * tuck)
        ex = g.lip_t * 0.6
        outer = skia.Path()
        outer.moveTo(x0 - hw - ex, cy)
        outer.cubicTo(x0 - (hw + ex) * a, ctl(y_u - lt_u), x0 + (hw + ex) * a, ctl(y_u - lt_u), x0 + hw + ex, cy)
        lower_y = y_l + lt_l - tuck * 4.0
        outer.cubicTo(x0 + (hw + ex) * a, ctl(lower_y), x0 - (hw + ex) * a, ctl(lower_y), x0 - hw - ex, cy)
        outer.close()
        c.drawPath(outer, self.lips)

        if open_h >= 2.0:
            inner = skia.Path()
            inner.moveTo(x0 - hw, cy)
            inner.cubicTo(x0 - hw * a, ctl(y_u), x0 + hw * a, ctl(y_u), x0 + hw, cy)
            inner.cubicTo(x0 + hw * a, ctl(y_l), x0 - hw * a, ctl(y_l), x0 - hw, cy)
            inner.close()
            c.save()
            c.clipPath(inner, doAntiAlias=True)
            c.drawPaint(self.inside)
            tooth = min(open_h * 0.34, 10.0)
            tongue_y = y_l - open_h * 0.12 - tongue_up * open_h * 0.5
            c.drawOval(skia.Rect.MakeLTRB(x0 - hw * 0.62, tongue_y - max(open_h * 0.28, 3),
                                          x0 + hw * 0.62, tongue_y + open_h * 0.5), self.tongue)
            if teeth_up > 0.05:
                c.drawRect(skia.Rect.MakeLTRB(x0 - hw, y_u - 30, x0 + hw, y_u + tooth * teeth_up + 1), self.teeth)
            if teeth_lo > 0.05:
                c.drawRect(skia.Rect.MakeLTRB(x0 - hw, y_l - tooth * teeth_lo - 1, x0 + hw, y_l + 30), self.teeth)
            c.restore()
        else:
            seam = skia.Path()
            seam.moveTo(x0 - hw, cy)
            seam.cubicTo(x0 - hw * 0.5, ctl(y0 + 0.5), x0 + hw * 0.5, ctl(y0 + 0.5), x0 + hw, cy)
            c.drawPath(seam, self.seam)
        if tongue_out > 0.05:
            c.drawOval(skia.Rect.MakeLTRB(x0 - hw * 0.42, y0 - 2, x0 + hw * 0.42, y0 + 4 + 7 * tongue_out),
                       self.tongue)
        if tuck > 0.05 or tongue_out > 0.05:
            band = max(tuck, tongue_out)
            c.drawRect(skia.Rect.MakeLTRB(x0 - hw * 0.55, y0 - 3, x0 + hw * 0.55, y0 - 1 + 3.5 * band), self.teeth)
        shine = skia.Path()
        shine.moveTo(x0 - hw * 0.3, lower_y - lt_l * 0.45)
        shine.quadTo(x0, lower_y - lt_l * 0.25, x0 + hw * 0.3, lower_y - lt_l * 0.45)
        c.drawPath(shine, self.lip_shine)
        if smile > 0.3:
            for side in (-1, 1):
                xc = x0 + side * (hw + ex + 3)
                c.drawLine(xc, cy - 4, xc + side * 3, cy + 3, self.crease)
