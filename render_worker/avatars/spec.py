"""What defines one avatar: a base style (one module under ``avatars/``), a palette and a face geometry.

An :class:`AvatarSpec` is plain data, so it hashes canonically: a worker prepares an avatar once
per ``(id, content_hash)`` (see ``PUT /v1/avatars/{id}``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields, replace

#: Version of the drawing code; part of every content hash, so a new renderer re-prepares.
STYLE_VERSION = "cpu2d-1"
AVATAR_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_SIZE, MAX_SIZE = 128, 1024

PALETTE_KEYS = ("background", "background2", "skin", "skin_shade", "hair", "iris", "sclera", "pupil", "brows",
                "lips", "mouth", "teeth", "tongue", "outfit", "outfit2", "accent", "outline")


@dataclass(frozen=True, slots=True)
class FaceGeometry:
    """Where the animated features sit, in design units (the canvas is 512 x 512)."""

    pivot_x: float = 256.0  #: head rotation pivot (the neck)
    pivot_y: float = 420.0
    eye_y: float = 232.0
    eye_dx: float = 50.0  #: half the distance between the eye centres
    eye_rx: float = 24.0
    eye_ry: float = 17.0
    iris_r: float = 12.0
    pupil_r: float = 5.5
    lashes: float = 0.0  #: 0 none .. 1 long outer lashes
    brow_gap: float = 30.0  #: brow height above the eye centre
    brow_len: float = 46.0
    brow_w: float = 7.0
    mouth_x: float = 256.0
    mouth_y: float = 318.0
    mouth_w: float = 34.0  #: half-width of the mouth at rest
    mouth_open: float = 46.0  #: opening height at jaw = 1
    lip_t: float = 6.5  #: lip thickness

    def mouth_box(self) -> tuple[float, float, float, float]:
        """Design-space box ``(x, y, w, h)`` that holds the mouth at any shape."""
        w = self.mouth_w * 1.45 + self.lip_t
        return (self.mouth_x - w, self.mouth_y - self.lip_t * 2.2 - 6,
                2 * w, self.mouth_open * 1.2 + self.lip_t * 4 + 10)


@dataclass(frozen=True, slots=True)
class AvatarSpec:
    id: str
    base: str
    name: str
    description: str
    palette: dict = field(default_factory=dict)
    geometry: FaceGeometry = FaceGeometry()
    size: int = 384
    version: str = STYLE_VERSION

    def canonical(self) -> dict:
        return {"base": self.base, "palette": dict(sorted(self.palette.items())),
                "geometry": {k: float(v) for k, v in asdict(self.geometry).items()}, "size": self.size,
                "version": self.version}

    @property
    def content_hash(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class SpecError(ValueError):
    """A preparation body that can't define an avatar; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def build_spec(avatar_id: str, body: dict, bases: dict[str, AvatarSpec]) -> AvatarSpec:
    """Resolve a ``PUT /v1/avatars/{id}`` body against the built-in ``bases``.

    Body keys (all optional): ``base`` (a built-in avatar id; defaults to ``avatar_id`` when that is
    built in), ``name``, ``description``, ``size`` (even, 128..1024 px), ``palette`` (colour
    overrides ``{key: "#rrggbb"}``), ``geometry`` (numeric overrides of :class:`FaceGeometry`).
    """
    if not AVATAR_ID.match(avatar_id):
        raise SpecError("avatar id must match [a-z0-9][a-z0-9_-]{0,63}")
    if not isinstance(body, dict):
        raise SpecError("body must be a JSON object")
    unknown = set(body) - {"base", "name", "description", "size", "palette", "geometry", "version"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)}")
    base_id = body.get("base") or (avatar_id if avatar_id in bases else None)
    if base_id not in bases:
        raise SpecError(f"base must be one of {sorted(bases)}")
    base = bases[base_id]
    version = body.get("version", STYLE_VERSION)
    if version != STYLE_VERSION:
        raise SpecError(f"this worker draws version {STYLE_VERSION!r}, not {version!r}")
    size = body.get("size", base.size)
    if not isinstance(size, int) or isinstance(size, bool) or size % 2 or not MIN_SIZE <= size <= MAX_SIZE:
        raise SpecError(f"size must be an even integer within {MIN_SIZE}..{MAX_SIZE}")
    palette = dict(base.palette)
    for key, value in (body.get("palette") or {}).items():
        if key not in PALETTE_KEYS:
            raise SpecError(f"unknown palette key {key!r}; known: {', '.join(PALETTE_KEYS)}")
        if not isinstance(value, str) or not HEX.match(value):
            raise SpecError(f"palette {key!r} must be '#rrggbb'")
        palette[key] = value.lower()
    geo_over = body.get("geometry") or {}
    names = {f.name for f in fields(FaceGeometry)}
    for key, value in geo_over.items():
        if key not in names:
            raise SpecError(f"unknown geometry key {key!r}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not -1000 <= value <= 1000:
            raise SpecError(f"geometry {key!r} must be a number")
    geometry = replace(base.geometry, **{k: float(v) for k, v in geo_over.items()})
    name = body.get("name", base.name if base_id == avatar_id else avatar_id)
    description = body.get("description", base.description)
    if not isinstance(name, str) or not isinstance(description, str):
        raise SpecError("name and description must be strings")
    return AvatarSpec(id=avatar_id, base=base_id, name=name[:80], description=description[:300],
                      palette=palette, geometry=geometry, size=size)
