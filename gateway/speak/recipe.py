"""The speak recipe: what happens to one line of dialogue, in order.

1. **prepare**    validate the request and plan the text: character, voices, provider order (:mod:`.prepare`);
2. **cache hit?** the first choice's own cached line goes ahead of every provider (:meth:`Router.cache_first`);
3. **chain**      the providers in order, with breakers, retries, deadlines and fail-over (:mod:`gateway.policy.chain`),
                  cloud voices levelled like local ones (:mod:`.level`), resampled to one output rate (:mod:`.output`);
                  a change of voice is announced (:mod:`.voice_watch`);
4. **timeline**   phonemes and words in utterance time, subtitles on the written text (:mod:`.timeline`);
5. **visemes**    visemes, Azure ids and ARKit curves, per sentence on streams (:mod:`.visemes`);
6. **finish**     encode the audio, keep it by request id, build the result (:mod:`.finish`);
7. **video**      a lip-synced video from the worker pool when an avatar is asked for (:mod:`.video`);
8. **remember**   a freshly synthesized line goes into the cache, after the client has its result (:mod:`.remember`).

Each step is a small unit with one job; the steps that watch the stream are async-generator filters that act on
the events they care about and pass the rest on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from gateway.core.errors import InputError
from gateway.core.events import ErrorEvent, FinalEvent, StatusEvent
from gateway.speak.events import LineFinished, StreamEvent
from gateway.speak.level import level_vendors
from gateway.speak.line import Line, SpeakInput
from gateway.speak.output import to_output
from gateway.speak.remember import remember
from gateway.speak.result import SpeakResult
from gateway.speak.run import LineRun
from gateway.speak.steps import Steps
from gateway.speak.timeline import track_timeline
from gateway.speak.video import render_video
from gateway.speak.visemes import stream_visemes
from gateway.speak.voice_watch import watch_voice


class SpeakRecipe:
    def __init__(self, steps: Steps) -> None:
        self.s = steps

    def prepare(self, inp: SpeakInput) -> Line:
        """1. prepare (raises :class:`InputError` for a bad request, before anything is synthesized)."""
        return self.s.preparer.prepare(inp)

    async def stream(self, line: Line, per_sentence: bool = True) -> AsyncIterator[StreamEvent]:
        """Steps 2-8 for a prepared line; ends with one ``final`` (:class:`LineFinished`) or one ``error`` event."""
        s, run = self.s, LineRun(line)
        with s.accounting(run) as trace_context:
            steps = s.router.cache_first(line.steps, line.first_choice) + line.steps        # 2. cache hit?
            events = s.chain.stream(s.plan(line, steps, trace_context), run.outcome)       # 3. chain
            events = level_vendors(events, run, s.loudness, s.delivery)                      #    cloud level
            events = track_timeline(to_output(events, run.audio), run)                      # 4. timeline
            events = stream_visemes(events, run) if per_sentence else events                # 5. visemes
            async with aclosing(s.levels.label(watch_voice(events, run), run)) as stream:
                async for event in stream:
                    if isinstance(event, ErrorEvent):
                        s.levels.record(line, run.outcome, None)
                        yield event
                        return
                    if not isinstance(event, FinalEvent):
                        yield event
            result = await s.finisher.finish(run, whole_lipsync=not per_sentence)           # 6. finish
            if line.avatar_id is not None:                                                   # 7. video
                yield StatusEvent("rendering", result.provider, result.degradation_level.value,
                                  f"rendering video for avatar {line.avatar_id}")
                await render_video(s.video, run, result, s.total_deadline_s)
            yield LineFinished(result)
            await remember(s.cache, run, result)                                            # 8. remember

    async def speak(self, line: Line) -> SpeakResult:
        """The whole line at once; when every provider fails, a text-only result with estimated timings."""
        error: ErrorEvent | None = None
        async with aclosing(self.stream(line, per_sentence=False)) as events:
            async for event in events:  # consumed to the end: the cache store follows the result
                if isinstance(event, LineFinished):
                    result = event.result
                elif isinstance(event, ErrorEvent):
                    error = event
        if error is None:
            return result
        if error.code == "bad_request":
            raise InputError(400, error.message)
        return self.s.finisher.text_only(line, error)
