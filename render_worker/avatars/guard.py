"""The castle guard: a steel kettle helmet with cheek guards, stubble, a blue tabard over mail, a stone gate."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, shade, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="guard", base="guard", name="Castle Guard",
    description="Bored sentry at the gate: steel kettle helmet, stubble, blue tabard over mail.",
    palette={"background": "#6f6a64", "background2": "#34312e", "skin": "#e0ac88", "skin_shade": "#c08a68",
             "hair": "#4a3a2c", "iris": "#5b6b3a", "sclera": "#f7f1e6", "pupil": "#15100c", "brows": "#3e2f22",
             "lips": "#a8594e", "mouth": "#3d1414", "teeth": "#f4ecd8", "tongue": "#c9646a",
             "outfit": "#274b8a", "outfit2": "#9aa0a8", "accent": "#d8c070", "outline": "#231a12"},
    geometry=FaceGeometry(eye_y=240, eye_dx=50, eye_rx=21, eye_ry=13, iris_r=10.0, pupil_r=4.8, brow_gap=25,
                          brow_len=48, brow_w=9.0, mouth_y=330, mouth_w=32, mouth_open=42, lip_t=6.0),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    mortar = stroke(shade(p["background"], 0.6, 0.7), 3)
    for row, y in enumerate(range(0, 512, 48)):  # stone courses
        c.drawLine(0, y, 512, y, mortar)
        for x in range(-40 + (row % 2) * 48, 512, 96):
            c.drawLine(x, y, x, y + 48, mortar)
    c.drawRect(skia.Rect.MakeLTRB(220, 330, 292, 440), fill(color(p["skin_shade"])))
    mail = skia.Path()
    mail.moveTo(20, 512)
    mail.cubicTo(30, 436, 104, 404, 200, 398)
    mail.lineTo(312, 398)
    mail.cubicTo(408, 404, 482, 436, 492, 512)
    mail.close()
    c.drawPath(mail, fill(color(p["outfit2"])))
    for y in range(412, 512, 10):  # mail rings
        c.drawLine(40, y, 472, y, stroke(shade(p["outfit2"], 0.7, 0.5), 2))
    c.drawPath(poly([(150, 512), (176, 420), (336, 420), (362, 512)]), fill(color(p["outfit"])))
    c.drawPath(poly([(256, 438), (286, 456), (276, 496), (256, 508), (236, 496), (226, 456)]),
               fill(color(p["accent"])))  # the castle's badge


def head(c: skia.Canvas, p: dict) -> None:
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 122, 256, 17, 27), fill(color(p["skin_shade"])))
    c.drawPath(blob(256, 240, 122, 150, top=0.92, bottom=1.0, jaw=1.05), fill(color(p["skin"])))
    stubble = fill(color(p["hair"], 0.28))
    c.drawPath(poly([(152, 290), (168, 360), (210, 394), (256, 402), (302, 394), (344, 360), (360, 290),
                     (320, 312), (256, 306), (192, 312)], smooth=True), stubble)
    c.drawOval(oval(256, 286, 17, 14), fill(color(p["skin_shade"])))
    c.drawOval(oval(256, 283, 14, 11), fill(shade(p["skin"], 1.04)))
    steel, dark = color("#b9c0c8"), shade("#b9c0c8", 0.55)
    for side in (-1, 1):  # cheek guards down to the jaw
        c.drawPath(poly([(256 + side * 128, 170), (256 + side * 136, 250), (256 + side * 120, 318),
                         (256 + side * 100, 300), (256 + side * 104, 200)], smooth=True), fill(steel))
    dome = skia.Path()
    dome.moveTo(126, 196)
    dome.cubicTo(130, 96, 200, 60, 256, 60)
    dome.cubicTo(312, 60, 382, 96, 386, 196)
    dome.close()
    c.drawPath(dome, fill(steel))
    c.drawOval(oval(256, 196, 168, 20), fill(steel))  # the brim
    c.drawOval(oval(256, 196, 168, 20), stroke(dark, 3))
    c.drawLine(256, 64, 256, 186, stroke(dark, 4))
    c.drawOval(oval(210, 110, 30, 14), fill(color("#ffffff", 0.35)))
    for x in (150, 362):
        c.drawCircle(x, 196, 4, fill(dark))


def over(c: skia.Canvas, p: dict) -> None:
    """Nothing covers the guard's features."""
