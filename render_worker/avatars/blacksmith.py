"""Brannoc the blacksmith: bald, big grey-brown beard and moustache, bulbous nose, leather apron, forge glow."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, radial, shade, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="blacksmith", base="blacksmith", name="Brannoc the Blacksmith",
    description="Gruff, warm smith: bald head, bushy beard and moustache, leather apron.",
    palette={"background": "#2c1d16", "background2": "#0f0a08", "skin": "#d99b78", "skin_shade": "#b8775a",
             "hair": "#6b5444", "iris": "#5a3a22", "sclera": "#f6efe4", "pupil": "#140d08", "brows": "#5a4536",
             "lips": "#a8544a", "mouth": "#3a1212", "teeth": "#f3ead2", "tongue": "#c9646a",
             "outfit": "#6e4527", "outfit2": "#7d8288", "accent": "#ff8a2a", "outline": "#2a1a12"},
    geometry=FaceGeometry(eye_y=236, eye_dx=52, eye_rx=21, eye_ry=14, iris_r=10.5, pupil_r=5.0, brow_w=12.0,
                          brow_len=54, brow_gap=27, mouth_y=330, mouth_w=33, mouth_open=44, lip_t=6.0),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    c.drawCircle(70, 470, 200, radial(70, 470, 200, [color(p["accent"], 0.7), color(p["accent"], 0.0)]))
    c.drawCircle(460, 60, 90, radial(460, 60, 90, [color("#ffcf7a", 0.18), color("#ffcf7a", 0.0)]))
    c.drawRect(skia.Rect.MakeLTRB(214, 330, 298, 440), fill(color(p["skin_shade"])))
    body = skia.Path()
    body.moveTo(10, 512)
    body.cubicTo(20, 430, 100, 400, 200, 395)
    body.lineTo(312, 395)
    body.cubicTo(412, 400, 492, 430, 502, 512)
    body.close()
    c.drawPath(body, fill(color(p["outfit2"])))
    c.drawPath(poly([(150, 512), (170, 440), (342, 440), (362, 512)]), fill(color(p["outfit"])))
    for x in (186, 326):
        c.drawLine(x, 440, x + (256 - x) * 0.2, 398, stroke(color(p["outfit"]), 12))
    c.drawCircle(256, 480, 7, fill(color("#c0c4c8")))


def head(c: skia.Canvas, p: dict) -> None:
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 128, 250, 19, 30), fill(color(p["skin_shade"])))
    c.drawPath(blob(256, 236, 128, 152, top=0.92, bottom=1.0, jaw=1.12), fill(color(p["skin"])))
    c.drawOval(oval(230, 130, 46, 22), fill(color("#ffffff", 0.22)))  # shine on the bald head
    for side in (-1, 1):  # short hair above the ears
        c.drawPath(poly([(256 + side * 130, 205), (256 + side * 122, 170), (256 + side * 104, 178),
                         (256 + side * 110, 250)], smooth=True), fill(color(p["hair"])))
    beard = skia.Path()
    beard.moveTo(130, 250)
    beard.cubicTo(128, 330, 170, 420, 256, 436)
    beard.cubicTo(342, 420, 384, 330, 382, 250)
    beard.cubicTo(362, 300, 320, 296, 300, 300)
    beard.cubicTo(290, 322, 222, 322, 212, 300)
    beard.cubicTo(192, 296, 150, 300, 130, 250)
    beard.close()
    c.drawPath(beard, fill(color(p["hair"])))
    for k in range(7):  # beard texture
        x = 180 + k * 25
        c.drawLine(x, 350 + (k % 2) * 12, x + 4, 400 - abs(k - 3) * 8, stroke(shade(p["hair"], 0.75), 3))
    # clear a chin patch so the lower lip shows against skin, then the nose
    c.drawOval(oval(256, 340, 44, 26), fill(color(p["skin_shade"])))
    c.drawOval(oval(256, 284, 19, 15), fill(color(p["skin_shade"])))
    c.drawOval(oval(256, 281, 16, 12), fill(shade(p["skin"], 1.05)))
    for side in (-1, 1):
        c.drawCircle(256 + side * 8, 290, 3.2, fill(color(p["outline"], 0.6)))


def over(c: skia.Canvas, p: dict) -> None:
    """The moustache hangs over the upper lip."""
    for side in (-1, 1):
        c.drawPath(poly([(256, 300), (256 + side * 30, 298), (256 + side * 58, 318), (256 + side * 62, 336),
                         (256 + side * 40, 318), (256 + side * 14, 316)], smooth=True), fill(shade(p["hair"], 0.9)))
