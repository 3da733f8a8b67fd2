"""Queen Isolde: dark hair under a jewelled gold crown, violet gown with an ermine collar, a red throne-room wall."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, radial, shade, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="queen", base="queen", name="Queen Isolde",
    description="Regal and measured: dark hair, jewelled gold crown, violet gown with an ermine collar.",
    palette={"background": "#6b1a24", "background2": "#240609", "skin": "#f3d6c4", "skin_shade": "#d8ad96",
             "hair": "#2b1a14", "iris": "#4b6fa8", "sclera": "#fbf8f4", "pupil": "#120c0a", "brows": "#2b1a14",
             "lips": "#b8455a", "mouth": "#4a1322", "teeth": "#fffaf2", "tongue": "#d9707c",
             "outfit": "#4b2a7a", "outfit2": "#f6f2ea", "accent": "#e2b33c", "outline": "#2a1510"},
    geometry=FaceGeometry(eye_y=236, eye_dx=48, eye_rx=23, eye_ry=15, lashes=0.8, brow_gap=29, brow_len=44,
                          brow_w=5.0, mouth_y=322, mouth_w=29, mouth_open=42, lip_t=6.5),
)


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    for x in (64, 448):  # gold pillars with a soft light between them
        c.drawRect(skia.Rect.MakeLTRB(x - 22, 0, x + 22, 512), fill(shade(p["accent"], 0.55, 0.55)))
    c.drawCircle(256, 150, 220, radial(256, 150, 220, [color(p["accent"], 0.22), color(p["accent"], 0.0)]))
    # long hair behind the shoulders
    c.drawPath(poly([(132, 200), (118, 360), (138, 470), (256, 488), (374, 470), (394, 360), (380, 200),
                     (256, 96)], smooth=True), fill(color(p["hair"])))
    c.drawRect(skia.Rect.MakeLTRB(226, 330, 286, 440), fill(color(p["skin_shade"])))
    gown = skia.Path()
    gown.moveTo(36, 512)
    gown.cubicTo(46, 446, 112, 418, 204, 410)
    gown.lineTo(308, 410)
    gown.cubicTo(400, 418, 466, 446, 476, 512)
    gown.close()
    c.drawPath(gown, fill(color(p["outfit"])))
    collar = poly([(150, 420), (200, 404), (256, 452), (312, 404), (362, 420), (330, 470), (256, 492),
                   (182, 470)], smooth=True)
    c.drawPath(collar, fill(color(p["outfit2"])))
    for x, y in ((190, 440), (226, 466), (286, 466), (322, 440), (256, 480)):  # ermine spots
        c.drawOval(oval(x, y, 3, 6), fill(color("#1a1a1a")))
    c.drawCircle(256, 444, 10, fill(color(p["accent"])))
    c.drawCircle(256, 444, 5, fill(color("#9b1b30")))


def head(c: skia.Canvas, p: dict) -> None:
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 112, 250, 14, 24), fill(color(p["skin_shade"])))
        c.drawCircle(256 + side * 114, 282, 7, fill(color("#d8d2e8")))  # pearl earrings
    c.drawPath(blob(256, 240, 112, 150, top=0.95, bottom=1.0, jaw=0.74), fill(color(p["skin"])))
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 64, 292, 22, 11), fill(color("#e07a86", 0.22)))
    nose = skia.Path()
    nose.moveTo(254, 246)
    nose.cubicTo(250, 272, 248, 286, 260, 288)
    c.drawPath(nose, stroke(color(p["skin_shade"]), 3))
    # hair parted in the middle, framing the face
    for side in (-1, 1):
        c.drawPath(poly([(256, 104), (256 + side * 90, 118), (256 + side * 124, 200), (256 + side * 118, 300),
                         (256 + side * 104, 220), (256 + side * 64, 150)], smooth=True), fill(color(p["hair"])))
    # the crown: a gold band with five points and jewels
    band = skia.Rect.MakeLTRB(168, 108, 344, 136)
    c.drawRoundRect(band, 6, 6, fill(color(p["accent"])))
    for k, x in enumerate((176, 216, 256, 296, 336)):
        top = 44 if k == 2 else (62 if k in (1, 3) else 78)
        c.drawPath(poly([(x - 16, 112), (x, top), (x + 16, 112)]), fill(color(p["accent"])))
        c.drawCircle(x, top + 6, 5, fill(color("#fff3c0")))
    c.drawLine(170, 132, 342, 132, stroke(shade(p["accent"], 0.7), 3))
    for x, jewel in ((216, "#2f6fd0"), (256, "#c0223a"), (296, "#2a9a55")):
        c.drawCircle(x, 122, 7, fill(color(jewel)))


def over(c: skia.Canvas, p: dict) -> None:
    """Nothing covers the queen's features."""
