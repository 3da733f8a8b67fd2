"""Built-in vector avatars, one module each: ``back`` (background, body, hair behind the head),
``head`` (the head's static parts) and ``over`` (parts above the animated features), drawn with
skia in a 512 x 512 design space. Eyes, brows and mouth are drawn per frame by
:mod:`render_worker.drawing` at the places :class:`~.spec.FaceGeometry` gives.
"""

from __future__ import annotations

from types import ModuleType

from render_worker.avatars import blacksmith, guard, innkeeper, narrator, oracle, queen, rogue
from render_worker.avatars.spec import AvatarSpec

STYLES: dict[str, ModuleType] = {m.SPEC.id: m for m in (innkeeper, blacksmith, rogue, queen, guard, oracle,
                                                         narrator)}
BUILTIN: dict[str, AvatarSpec] = {m.SPEC.id: m.SPEC for m in STYLES.values()}
DEFAULT_AVATAR = "innkeeper"
