"""Step 1, prepare: a client's request -> a :class:`~gateway.speak.line.Line`, or an :class:`InputError`.

Validation happens here and nowhere later: the text (planned once, :func:`~gateway.text.plan.plan_segments`),
its length, the output format, the frame rate, the character and the voice a request names
(:mod:`gateway.speak.voice_ids`). What it finds wrong answers 400/404 before any provider is asked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from gateway.audio.formats import parse_output_format, valid_output_formats
from gateway.characters import Cast, Character
from gateway.core.errors import InputError
from gateway.settings import Settings
from gateway.speak.line import Line, SpeakInput
from gateway.speak.route import Router
from gateway.speak.voice_ids import VoiceIds, VoicePin
from gateway.text.emotions import Emotion, UnknownEmotion
from gateway.text.plan import TEXT_TYPES, Planned, TextTooLong, plan_segments
from gateway.text.ssml import SsmlError

#: ``avatar_id`` of the original contract: the character's own avatar.
DEFAULT_AVATAR = "default"


class LinePreparer:
    """Turns requests into prepared lines for one cast, one set of voices and one router."""

    def __init__(self, settings: Settings, cast: Cast, voice_ids: VoiceIds, router: Router,
                 video_enabled: Callable[[], bool], clock: Callable[[], float] = time.perf_counter) -> None:
        self.settings = settings
        self.cast = cast
        self.voice_ids = voice_ids
        self.router = router
        self.video_enabled = video_enabled
        self.clock = clock

    def prepare(self, inp: SpeakInput) -> Line:
        started = self.clock()
        pinned = self.resolve_voice(inp.voice_id) if inp.voice_id else None
        character = self.character(inp.character or (pinned.character if pinned is not None else None))
        planned = self.plan_text(inp, character)
        output = self.output_format(inp.output_format)
        fps = self.settings.blendshape_fps if inp.fps is None else inp.fps
        if not 1 <= fps <= 240:
            raise InputError(400, "fps must be between 1 and 240")
        route = self.router.steps(character, pinned)
        settings = character.settings_for(planned.emotion).override(**(inp.voice_settings or {}),
                                                                    model_id=inp.model_id)
        return Line(uuid.uuid4().hex, planned.text, planned.segments, character, output, route.steps,
                    route.first_choice, settings, inp.visemes, inp.blendshapes, fps,
                    self.avatar(inp.avatar_id, character), planned, started, voices=route.voices, live=inp.live)

    def avatar(self, asked: str | None, character: Character) -> str | None:
        """The avatar a line is rendered with: ``"default"`` is the character's own (else the pool's default); no
        avatar asked is the character's only when :attr:`video_enabled` says every line gets video."""
        if asked == DEFAULT_AVATAR:
            return character.avatar or self.settings.video.default_avatar
        return asked or (character.avatar if self.video_enabled() else None)

    def plan_text(self, inp: SpeakInput, character: Character) -> Planned:
        """SSML or plain text -> spoken text and segments with their prosody and emotion (read once)."""
        raw, limit = inp.text or "", self.settings.max_text_chars
        if len(raw) > 20 * limit:  # not worth parsing: even markup does not make a line 20 times longer
            raise InputError(400, f"Text is too long; the limit is {limit} characters", limit=limit)
        if inp.text_type not in TEXT_TYPES:
            raise InputError(400, f"Unknown text_type {inp.text_type!r}", valid=list(TEXT_TYPES))
        emotion = inp.emotion or (character.emotion if character.emotion != "neutral" else None)
        try:
            planned = plan_segments(raw, text_type=inp.text_type, pronunciations=character.pronunciations,
                                    emotion=emotion, intensity=inp.intensity, max_chars=limit)
        except TextTooLong as exc:
            raise InputError(400, f"Text is too long: {exc.length} characters; the limit is {limit}",
                             limit=limit) from None
        except SsmlError as exc:
            raise InputError(400, f"Invalid SSML: {exc.message}", element=exc.element, line=exc.line,
                             column=exc.column) from None
        except UnknownEmotion:
            raise InputError(400, f"Unknown emotion {emotion!r}", valid=[e.value for e in Emotion]) from None
        if not planned.text.strip():
            raise InputError(400, "Text is required")
        if len(planned.display) > limit:
            raise InputError(400, f"Text is too long: {len(planned.display)} characters; the limit is {limit}",
                             limit=limit)
        return planned

    def output_format(self, name: str | None):  # noqa: ANN201 - an OutputFormat
        try:
            return parse_output_format(name or self.settings.default_output_format)
        except ValueError:
            raise InputError(400, f"Unknown output_format {name!r}", valid=valid_output_formats()) from None

    def character(self, character_id: str | None) -> Character:
        cid = character_id or self.settings.default_character
        character = self.cast.get(cid)
        if character is None:
            raise InputError(404, f"Unknown character {cid!r}", valid=self.cast.ids)
        return character

    def resolve_voice(self, voice_id: str) -> VoicePin:
        """A character id, ``provider:voice`` or a vendor voice id -> :class:`VoicePin`; 404 with a hint."""
        return self.voice_ids.resolve(voice_id)
