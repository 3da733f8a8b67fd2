"""The Oracle: silver hair under a pale blue hood, a glowing mark on the brow, a candle-lit shrine."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, radial, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="oracle", base="oracle", name="The Oracle",
    description="Ancient voice of the shrine: silver hair, pale blue hood, a glowing mark on the brow.",
    palette={"background": "#2a2346", "background2": "#0c0a18", "skin": "#e8d4c8", "skin_shade": "#c6aa9c",
             "hair": "#d8dce6", "iris": "#8fd6e8", "sclera": "#f6f4fa", "pupil": "#1a1830", "brows": "#b9bcc8",
             "lips": "#a86878", "mouth": "#3a1628", "teeth": "#f8f4ee", "tongue": "#c8707e",
             "outfit": "#7fa6c8", "outfit2": "#4d6f93", "accent": "#9ff0ff", "outline": "#2c2238"},
    geometry=FaceGeometry(eye_y=236, eye_dx=46, eye_rx=22, eye_ry=14, iris_r=11.0, pupil_r=4.0, lashes=0.5,
                          brow_gap=28, brow_len=40, brow_w=4.5, mouth_y=322, mouth_w=28, mouth_open=40, lip_t=5.5),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    for x, y in ((70, 380), (442, 380), (110, 300), (402, 300)):  # candles
        c.drawCircle(x, y - 30, 46, radial(x, y - 30, 46, [color("#ffd27a", 0.45), color("#ffd27a", 0.0)]))
        c.drawRect(skia.Rect.MakeLTRB(x - 7, y - 20, x + 7, y + 40), fill(color("#efe6d2")))
        c.drawOval(oval(x, y - 30, 5, 10), fill(color("#ffcf5a")))
    c.drawPath(poly([(86, 512), (100, 300), (150, 120), (256, 56), (362, 120), (412, 300), (426, 512)],
                    smooth=True), fill(color(p["outfit2"])))  # the hood behind the head
    c.drawPath(poly([(150, 230), (140, 380), (176, 470), (256, 486), (336, 470), (372, 380), (362, 230)],
                    smooth=True), fill(color(p["hair"])))
    c.drawRect(skia.Rect.MakeLTRB(228, 330, 284, 440), fill(color(p["skin_shade"])))
    robe = skia.Path()
    robe.moveTo(40, 512)
    robe.cubicTo(60, 444, 130, 414, 210, 406)
    robe.lineTo(302, 406)
    robe.cubicTo(382, 414, 452, 444, 472, 512)
    robe.close()
    c.drawPath(robe, fill(color(p["outfit"])))
    c.drawPath(poly([(214, 408), (256, 500), (298, 408)]), fill(color(p["outfit2"])))
    c.drawCircle(256, 452, 12, fill(color(p["accent"], 0.9)))


def head(c: skia.Canvas, p: dict) -> None:
    c.drawPath(blob(256, 240, 108, 148, top=0.95, bottom=1.0, jaw=0.76), fill(color(p["skin"])))
    lines = stroke(color(p["skin_shade"], 0.9), 2)
    for side in (-1, 1):  # age lines at the eyes and mouth
        c.drawLine(256 + side * 76, 228, 256 + side * 88, 222, lines)
        c.drawLine(256 + side * 76, 238, 256 + side * 88, 240, lines)
        c.drawArc(oval(256 + side * 36, 318, 14, 26), 90 - side * 60, side * 50, False, lines)
    nose = skia.Path()
    nose.moveTo(254, 248)
    nose.cubicTo(250, 272, 248, 284, 260, 286)
    c.drawPath(nose, stroke(color(p["skin_shade"]), 3))
    for side in (-1, 1):  # silver hair parted under the hood
        c.drawPath(poly([(256, 96), (256 + side * 96, 120), (256 + side * 118, 230), (256 + side * 112, 330),
                         (256 + side * 98, 220), (256 + side * 60, 140)], smooth=True), fill(color(p["hair"])))
    hood = skia.Path()  # the hood's rim over the hair
    hood.moveTo(132, 300)
    hood.cubicTo(110, 150, 180, 76, 256, 74)
    hood.cubicTo(332, 76, 402, 150, 380, 300)
    hood.cubicTo(384, 170, 330, 104, 256, 100)
    hood.cubicTo(182, 104, 128, 170, 132, 300)
    hood.close()
    c.drawPath(hood, fill(color(p["outfit"])))
    c.drawCircle(256, 178, 22, radial(256, 178, 22, [color(p["accent"], 0.8), color(p["accent"], 0.0)]))
    c.drawPath(poly([(256, 166), (266, 178), (256, 190), (246, 178)]), fill(color(p["accent"])))


def over(c: skia.Canvas, p: dict) -> None:
    """Nothing covers the Oracle's features."""
