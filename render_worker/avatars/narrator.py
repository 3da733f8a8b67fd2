"""The narrator: a grey-haired storyteller with round spectacles and a trimmed beard, in a lamp-lit library."""

from __future__ import annotations

import skia

from render_worker.avatars.kit import blob, color, fill, linear, oval, poly, radial, shade, stroke
from render_worker.avatars.spec import AvatarSpec, FaceGeometry

SPEC = AvatarSpec(
    id="narrator", base="narrator", name="The Narrator",
    description="Calm storyteller: grey hair, round spectacles, trimmed beard, brown coat, a lamp-lit library.",
    palette={"background": "#4a3526", "background2": "#1c130c", "skin": "#e9bf9c", "skin_shade": "#c99878",
             "hair": "#a9a6a2", "iris": "#6a4a2e", "sclera": "#f8f2e8", "pupil": "#160f0a", "brows": "#8d8985",
             "lips": "#b0615a", "mouth": "#3e1616", "teeth": "#f6eedc", "tongue": "#cc6a70",
             "outfit": "#5b3b24", "outfit2": "#e8dcc4", "accent": "#d9a441", "outline": "#2b1b10"},
    geometry=FaceGeometry(eye_y=234, eye_dx=50, eye_rx=21, eye_ry=14, iris_r=10.5, pupil_r=4.8, brow_gap=27,
                          brow_len=48, brow_w=8.0, mouth_y=324, mouth_w=31, mouth_open=42, lip_t=6.0),
)

SPINES = ("#7a2e24", "#2e5a3a", "#31457a", "#8a6a2a", "#5a2e5a", "#7a4a24")


def back(c: skia.Canvas, p: dict) -> None:
    c.drawPaint(linear(0, 0, 0, 512, [color(p["background"]), color(p["background2"])]))
    for shelf, y in enumerate((40, 190, 340)):  # book spines on three shelves
        x = 0
        k = shelf
        while x < 512:
            w = 18 + (k * 7) % 14
            c.drawRect(skia.Rect.MakeLTRB(x, y, x + w - 2, y + 130 - (k * 11) % 30), fill(color(SPINES[k % 6], 0.8)))
            x += w
            k += 1
        c.drawRect(skia.Rect.MakeLTRB(0, y + 130, 512, y + 142), fill(shade(p["background"], 0.6)))
    c.drawCircle(70, 120, 120, radial(70, 120, 120, [color(p["accent"], 0.45), color(p["accent"], 0.0)]))
    c.drawRect(skia.Rect.MakeLTRB(222, 330, 290, 440), fill(color(p["skin_shade"])))
    coat = skia.Path()
    coat.moveTo(30, 512)
    coat.cubicTo(40, 440, 110, 410, 204, 402)
    coat.lineTo(308, 402)
    coat.cubicTo(402, 410, 472, 440, 482, 512)
    coat.close()
    c.drawPath(coat, fill(color(p["outfit"])))
    c.drawPath(poly([(206, 404), (256, 470), (306, 404)]), fill(color(p["outfit2"])))
    for side in (-1, 1):  # lapels
        c.drawPath(poly([(256 + side * 52, 404), (256 + side * 12, 476), (256 + side * 70, 512),
                         (256 + side * 96, 420)]), fill(shade(p["outfit"], 0.8)))


def head(c: skia.Canvas, p: dict) -> None:
    for side in (-1, 1):
        c.drawOval(oval(256 + side * 118, 252, 16, 26), fill(color(p["skin_shade"])))
    c.drawPath(blob(256, 238, 118, 150, top=0.93, bottom=1.0, jaw=0.9), fill(color(p["skin"])))
    hair = color(p["hair"])
    for side in (-1, 1):  # receding grey hair at the sides and a little on top
        c.drawPath(poly([(256 + side * 40, 100), (256 + side * 104, 128), (256 + side * 124, 200),
                         (256 + side * 118, 262), (256 + side * 100, 196), (256 + side * 70, 140)], smooth=True),
                   fill(hair))
    c.drawOval(oval(256, 102, 56, 16), fill(hair))
    beard = skia.Path()  # trimmed beard along the jaw, clear of the lips
    beard.moveTo(146, 280)
    beard.cubicTo(150, 360, 196, 408, 256, 414)
    beard.cubicTo(316, 408, 362, 360, 366, 280)
    beard.cubicTo(350, 330, 320, 356, 300, 356)
    beard.cubicTo(290, 372, 222, 372, 212, 356)
    beard.cubicTo(192, 356, 162, 330, 146, 280)
    beard.close()
    c.drawPath(beard, fill(hair))
    c.drawOval(oval(256, 284, 16, 13), fill(color(p["skin_shade"])))
    c.drawOval(oval(256, 281, 13, 10), fill(shade(p["skin"], 1.04)))
    for side in (-1, 1):  # moustache ends at the mouth corners
        c.drawPath(poly([(256 + side * 6, 302), (256 + side * 40, 300), (256 + side * 52, 312),
                         (256 + side * 30, 308)], smooth=True), fill(hair))


def over(c: skia.Canvas, p: dict) -> None:
    """Round spectacles over the eyes."""
    rim = stroke(color(p["accent"]), 3.2)
    for side in (-1, 1):
        c.drawCircle(256 + side * 50, 236, 30, fill(color("#ffffff", 0.08)))
        c.drawCircle(256 + side * 50, 236, 30, rim)
        c.drawLine(256 + side * 80, 232, 256 + side * 116, 226, rim)
    bridge = skia.Path()
    bridge.moveTo(232, 232)
    bridge.quadTo(256, 222, 280, 232)
    c.drawPath(bridge, rim)
