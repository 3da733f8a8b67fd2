"""A flagged word may only be said another way: re-align it locally with its dictionary variants.

The grammar gives dictionary words their canonical pronunciation (see :mod:`.decoder`). When
:mod:`.mismatch` flags a word that has variants (Piper says ``your`` as "yur", ``are`` as "er"),
the stretch from the aligned word before the region to the aligned word after it is decoded
again with those words free to take any variant, and spliced back into the alignment; the
regions are then found anew. Only that stretch is decoded, so a long line pays for a few
words, not for a second pass over everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.timing.aligners.acoustics import Acoustics
from gateway.timing.aligners.decoder import FRAME_MS, RATE, AlignedWord, AlignmentFailed, SphinxDecoder
from gateway.timing.aligners.mismatch import Region, find_regions


def _spoken_positions(words: Sequence[AlignedWord]) -> list[int]:
    """Index in ``words`` of each spoken (non-filler) word."""
    return [i for i, w in enumerate(words) if not w.filler]


def retry_variants(dec: SphinxDecoder, words: list[AlignedWord], regions: list[Region], keys: Sequence[str],
                   pause_probs: Sequence[float], window: bytes,
                   acoustics: Acoustics) -> tuple[list[AlignedWord], list[Region]]:
    """``(words, regions)`` after re-aligning each region that holds words with variants (if that helps)."""
    for region in list(regions):
        expand = {keys[i] for i in region.words if dec.has_variants(keys[i])}
        if not expand:
            continue
        spoken = _spoken_positions(words)
        first = max(0, region.words[0] - 1)
        last = min(len(spoken) - 1, region.words[-1] + 1)
        a, b = words[spoken[first]], words[spoken[last]]
        start, end = a.start, b.start + b.frames
        piece = window[start * FRAME_MS * RATE // 1000 * 2: end * FRAME_MS * RATE // 1000 * 2]
        try:
            local = dec.align(keys[first:last + 1], pause_probs[first:last], piece, expand)
        except AlignmentFailed:
            continue
        if [w.name for w in local if not w.filler] != list(keys[first:last + 1]):
            continue
        local = [AlignedWord(w.name, w.start + start, w.frames, w.score, [(n, s + start, d) for n, s, d in w.phones])
                 for w in local]
        spliced = words[:spoken[first]] + local + words[spoken[last] + 1:]
        new_regions = find_regions(spliced, acoustics)
        if sum(len(r.words) for r in new_regions) < sum(len(r.words) for r in regions):
            words, regions = spliced, new_regions
    return words, regions
