"""Vex the rogue: a fox in a dark green hood, amber eyes, white muzzle, under a night sky."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import color, fill, linear, oval, poly, radial, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="rogue", base="rogue", name="Vex the Rogue",
    description="Sly fox thief in a dark green hood: amber eyes, white muzzle, night sky.",
    palette={"background": "#1d2b4a", "background2": "#080c18", "skin": "#e07a2e", "skin_shade": "#b85a1c",
             "hair": "#f7efe2", "iris": "#e8a317", "sclera": "#fff6de", "pupil": "#120a04", "brows": "#4a2410",
             "lips": "#3b2220", "mouth": "#5a1a1e", "teeth": "#fffaf0", "tongue": "#e0707c",
             "outfit": "#23452f", "outfit2": "#162c1e", "accent": "#f1e3a0", "outline": "#2a140a"},
    geometry=FaceGeometry(eye_y=226, eye_dx=54, eye_rx=25, eye_ry=16, iris_r=12.5, pupil_r=5.0, brow_gap=28,
                          brow_len=40, brow_w=8.0, mouth_y=330, mouth_w=30, mouth_open=40, lip_t=5.0),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    c.drawCircle(420, 92, 110, radial(420, 92, 110, [color(p["accent"], 0.35), color(p["accent"], 0.0)]))
    c.drawCircle(420, 92, 34, fill(color(p["accent"])))
    c.drawCircle(432, 84, 30, fill(color(p["background"])))  # crescent
    for x, y in ((60, 70), (130, 40), (200, 100), (330, 30), (480, 200), (40, 200), (300, 80)):
        c.drawCircle(x, y, 2.2, fill(color("#ffffff", 0.8)))
    c.drawPath(poly([(70, 512), (96, 300), (150, 120), (256, 60), (362, 120), (416, 300), (442, 512)],
                    smooth=True), fill(color(p["outfit2"])))  # the hood behind the head
    cloak = skia.Path()
    cloak.moveTo(30, 512)
    cloak.cubicTo(60, 440, 130, 410, 210, 400)
    cloak.lineTo(302, 400)
    cloak.cubicTo(382, 410, 452, 440, 482, 512)
    cloak.close()
    c.drawPath(cloak, fill(color(p["outfit"])))
    c.drawCircle(256, 440, 11, fill(color("#d4af37")))


def head(c: skia.Canvas, p: dict) -> None:
    for side in (-1, 1):  # ears
        c.drawPath(poly([(256 + side * 50, 130), (256 + side * 120, 36), (256 + side * 128, 170)]),
                   fill(color(p["skin"])))
        c.drawPath(poly([(256 + side * 66, 132), (256 + side * 114, 62), (256 + side * 116, 160)]),
                   fill(color(p["outline"], 0.8)))
    face = poly([(256, 108), (340, 122), (380, 190), (414, 300), (352, 322), (300, 380), (256, 392),
                 (212, 380), (160, 322), (98, 300), (132, 190), (172, 122)], smooth=True)
    c.drawPath(face, fill(color(p["skin"])))
    for side in (-1, 1):  # white cheek tufts and eye markings
        c.drawPath(poly([(256 + side * 20, 290), (256 + side * 130, 296), (256 + side * 96, 318),
                         (256 + side * 70, 350), (256 + side * 30, 370)], smooth=True), fill(color(p["hair"])))
        c.drawOval(oval(256 + side * 56, 228, 38, 28), fill(color(p["skin_shade"], 0.7)))
    c.drawOval(oval(256, 330, 50, 50), fill(color(p["hair"])))
    c.drawPath(poly([(236, 282), (276, 282), (256, 302)], smooth=True), fill(color("#1a0f0a")))
    c.drawCircle(250, 285, 3, fill(color("#ffffff", 0.5)))
    c.drawLine(256, 300, 256, 314, stroke(color(p["outline"], 0.7), 2.5))


def over(c: skia.Canvas, p: dict) -> None:
    """Nothing covers Vex's features."""
