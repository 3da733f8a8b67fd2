"""ARKit blendshape poses for the 15 Oculus visemes.

Each viseme is a pose: a few ARKit-named mouth/jaw/tongue channels in ``[0, 1]``; channels a
pose does not name are 0. :data:`CHANNELS` is the mouth subset the curves carry (always by
name, never by index: every vendor orders the 52 differently). The values are hand-tuned
starting points in the spirit of common viseme -> ARKit retargets; rigs differ, so engines
may scale channels. Note ``mouthClose`` in ARKit closes the lips *against* ``jawOpen``: the
``PP`` pose keeps a small jawOpen with a high mouthClose and mouthPress.
"""

from __future__ import annotations

import numpy as np

from gateway.lipsync.oculus import Viseme

#: The 52 ARKit blendshape names (Apple's spelling).
ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

#: Channels carried by lip-sync curves, in output order.
CHANNELS: tuple[str, ...] = (
    "jawOpen", "jawForward", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "tongueOut",
)


def _sym(**values: float) -> dict[str, float]:
    """Expand ``mouthStretch=0.3`` into the Left/Right pair."""
    out: dict[str, float] = {}
    for name, value in values.items():
        if name in ("mouthStretch", "mouthSmile", "mouthPress", "mouthLowerDown", "mouthUpperUp"):
            out[name + "Left"] = out[name + "Right"] = value
        else:
            out[name] = value
    return out


#: Oculus viseme -> ARKit pose (unnamed channels are 0).
POSES: dict[Viseme, dict[str, float]] = {
    Viseme.sil: {},
    Viseme.PP: _sym(jawOpen=0.04, mouthClose=0.75, mouthPress=0.55, mouthRollLower=0.2, mouthRollUpper=0.1),
    Viseme.FF: _sym(jawOpen=0.08, mouthClose=0.2, mouthRollLower=0.65, mouthUpperUp=0.25, mouthShrugUpper=0.2,
                    mouthPress=0.15),
    Viseme.TH: _sym(jawOpen=0.16, tongueOut=0.45, mouthLowerDown=0.2, mouthUpperUp=0.1, mouthStretch=0.1),
    Viseme.DD: _sym(jawOpen=0.2, mouthStretch=0.15, mouthLowerDown=0.15, mouthUpperUp=0.05),
    Viseme.kk: _sym(jawOpen=0.25, mouthStretch=0.2, mouthLowerDown=0.1),
    Viseme.CH: _sym(jawOpen=0.15, mouthFunnel=0.5, mouthPucker=0.25, mouthShrugUpper=0.3, mouthShrugLower=0.2,
                    mouthUpperUp=0.2, mouthLowerDown=0.2, jawForward=0.1),
    Viseme.SS: _sym(jawOpen=0.08, mouthStretch=0.4, mouthSmile=0.2, mouthUpperUp=0.15, mouthLowerDown=0.15),
    Viseme.nn: _sym(jawOpen=0.18, mouthStretch=0.1, mouthLowerDown=0.1, mouthUpperUp=0.05),
    Viseme.RR: _sym(jawOpen=0.15, mouthFunnel=0.3, mouthPucker=0.35, mouthShrugUpper=0.1),
    Viseme.aa: _sym(jawOpen=0.65, mouthLowerDown=0.3, mouthUpperUp=0.1, mouthStretch=0.1),
    Viseme.E: _sym(jawOpen=0.4, mouthStretch=0.35, mouthSmile=0.2, mouthLowerDown=0.25, mouthUpperUp=0.15),
    Viseme.ih: _sym(jawOpen=0.22, mouthStretch=0.45, mouthSmile=0.35, mouthUpperUp=0.1, mouthLowerDown=0.1),
    Viseme.oh: _sym(jawOpen=0.45, mouthFunnel=0.6, mouthPucker=0.3, mouthLowerDown=0.1),
    Viseme.ou: _sym(jawOpen=0.2, mouthPucker=0.8, mouthFunnel=0.4),
}


def pose_matrix(channels: tuple[str, ...] = CHANNELS) -> np.ndarray:
    """``(15, len(channels))`` float64 matrix: row = Oculus viseme value, column = channel."""
    mat = np.zeros((len(Viseme), len(channels)), dtype=np.float64)
    for vis, pose in POSES.items():
        for name, value in pose.items():
            if name in channels:
                mat[int(vis), channels.index(name)] = value
    return mat
