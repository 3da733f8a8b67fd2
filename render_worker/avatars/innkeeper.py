"""Mira the innkeeper: auburn hair in a bun, freckles, green eyes, a green dress, a warm tavern wall."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, radial, shade, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="innkeeper", base="innkeeper", name="Mira the Innkeeper",
    description="Cheerful host of the Gilded Goose: auburn bun, freckles, green dress.",
    palette={"background": "#8a5a3a", "background2": "#3e2417", "skin": "#f2c9a5", "skin_shade": "#d9a27f",
             "hair": "#9c3d1c", "iris": "#3f8f4e", "sclera": "#fbf8f2", "pupil": "#1a1410", "brows": "#7a2e15",
             "lips": "#c9575a", "mouth": "#4a1620", "teeth": "#fffaf0", "tongue": "#d9727a",
             "outfit": "#2f6b45", "outfit2": "#f4ead8", "accent": "#e0b341", "outline": "#3b2418"},
    geometry=FaceGeometry(lashes=1.0, mouth_w=31.0, lip_t=7.0, brow_w=6.0, eye_rx=25.0, eye_ry=18.0),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    for x in (40, 150, 362, 472):  # wall planks
        c.drawLine(x, 0, x, 512, stroke(shade(p["background"], 0.7, 0.5), 3))
    c.drawCircle(430, 110, 120, radial(430, 110, 120, [color(p["accent"], 0.55), color(p["accent"], 0.0)]))
    c.drawCircle(430, 110, 14, fill(color("#fff1c4")))
    # hair falling behind the shoulders
    c.drawPath(poly([(120, 240), (112, 380), (150, 455), (256, 470), (362, 455), (400, 380), (392, 240),
                     (256, 90)], smooth=True), fill(color(p["hair"])))
    # neck and dress
    c.drawRect(skia.Rect.MakeLTRB(222, 330, 290, 440), fill(color(p["skin_shade"])))
    body = skia.Path()
    body.moveTo(40, 512)
    body.cubicTo(50, 450, 110, 420, 200, 412)
    body.lineTo(312, 412)
    body.cubicTo(402, 420, 462, 450, 472, 512)
    body.close()
    c.drawPath(body, fill(color(p["outfit"])))
    c.drawPath(poly([(200, 414), (256, 478), (312, 414)]), fill(color(p["outfit2"])))
    c.drawOval(oval(256, 420, 48, 22), fill(color(p["skin_shade"])))
    for x in (196, 316):  # bodice laces
        c.drawLine(x, 430, x + (256 - x) * 0.6, 512, stroke(color(p["outfit2"]), 5))


def head(c: skia.Canvas, p: dict) -> None:
    c.drawCircle(256, 84, 50, fill(color(p["hair"])))  # bun
    c.drawArc(oval(256, 84, 34, 30), 200, 140, False, stroke(shade(p["hair"], 0.7), 4))
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 116, 252, 16, 26), fill(color(p["skin_shade"])))
        c.drawCircle(256 + side * 119, 286, 6, fill(color(p["accent"])))
    c.drawPath(blob(256, 238, 116, 150, top=0.95, bottom=1.0, jaw=0.78), fill(color(p["skin"])))
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 68, 286, 24, 13), fill(color("#e8807a", 0.28)))
        for dx, dy in ((-10, -4), (0, 2), (9, -3), (4, 7)):
            c.drawCircle(256 + side * (60 + dx), 272 + dy, 1.8, fill(color("#b06a45", 0.6)))
    nose = skia.Path()
    nose.moveTo(252, 250)
    nose.cubicTo(248, 270, 246, 282, 258, 284)
    c.drawPath(nose, stroke(color(p["skin_shade"]), 3))
    # fringe swept to one side
    fringe = skia.Path()
    fringe.moveTo(136, 262)
    fringe.cubicTo(118, 140, 200, 82, 262, 86)
    fringe.cubicTo(330, 88, 398, 140, 378, 262)
    fringe.cubicTo(368, 200, 350, 170, 320, 160)
    fringe.cubicTo(280, 185, 210, 180, 186, 168)
    fringe.cubicTo(158, 190, 146, 220, 136, 262)
    fringe.close()
    c.drawPath(fringe, fill(color(p["hair"])))
    c.drawArc(oval(256, 150, 90, 50), 200, 60, False, stroke(shade(p["hair"], 1.25, 0.6), 4))


def over(c: skia.Canvas, p: dict) -> None:
    """Nothing covers Mira's features."""
