"""The alignment grammar: the text's words in order, optional pauses between them, no null arcs.

Pocketsphinx's own ``set_align_text`` allows a pause anywhere with one small probability and
none at the end. Speakers pause where the text has punctuation, so the grammar built here gives
each gap its own pause probability (:func:`pause_probabilities`): high at punctuation, low
between words, high at both ends. Each word may have several pronunciations (dictionary entries
``word``, ``word(2)``...), the first preferred.

The grammar has no epsilon arcs (a null arc shows up as a ``(NULL)`` segment that breaks
pocketsphinx's phone-level alignment): state ``B(i)`` is "before word i, no pause pending",
``P(i)`` is "a pause comes before word i"; every word arc goes to both, weighted by the gap's
pause probability, and ``P(i) --<sil>--> B(i)``.
"""

from __future__ import annotations

from collections.abc import Sequence

SILENCE_WORD = "<sil>"
#: Punctuation that makes a pause likely.
PAUSE_PUNCTUATION = frozenset(".,;:!?…—–()\"“”")
#: Pause probability at punctuation, between plain words, and before the first / after the last word.
P_PUNCT = 0.9
P_WORD = 0.05
P_EDGE = 0.9
#: Weight of each extra pronunciation relative to the first.
P_VARIANT = 0.5

Transition = tuple[int, int, float, str]


def pause_probabilities(gaps: Sequence[str]) -> list[float]:
    """Pause probability of each gap between words (``gaps[i]``: the text between word i and i+1)."""
    return [P_PUNCT if any(ch in PAUSE_PUNCTUATION for ch in gap) else P_WORD for gap in gaps]


def alignment_grammar(words: Sequence[Sequence[str]], pauses: Sequence[float],
                      edge: float = P_EDGE) -> tuple[int, list[Transition]]:
    """``(final_state, transitions)`` from state 0 through ``words`` (each a list of dictionary entries).

    ``pauses[i]`` is the probability of a pause between word i and i+1 (``len(words) - 1`` values).
    """
    n = len(words)
    if n == 0:
        raise ValueError("no words")
    if len(pauses) != n - 1:
        raise ValueError("one pause probability per gap")

    def b(i: int) -> int:
        return 1 + 2 * i

    def p(i: int) -> int:
        return 2 + 2 * i

    final = 2 * n + 3  # p(n) = 2n + 2 is the pause before it
    trans: list[Transition] = [(0, b(0), edge, SILENCE_WORD)]
    for i, variants in enumerate(words):
        if i < n - 1:
            ps = pauses[i]
            targets = [(b(i + 1), 1.0 - ps), (p(i + 1), ps)]
            trans.append((p(i + 1), b(i + 1), 1.0, SILENCE_WORD))
        else:
            targets = [(final, 1.0 - edge), (p(n), edge)]
            trans.append((p(n), final, 1.0, SILENCE_WORD))
        sources = [(b(i), 1.0)] + ([(0, 1.0 - edge)] if i == 0 else [])
        weights = [1.0] + [P_VARIANT] * (len(variants) - 1)
        total = sum(weights)
        for entry, weight in zip(variants, weights):
            for src, f_src in sources:
                for dst, f_dst in targets:
                    prob = weight / total * f_src * f_dst
                    if prob > 0:
                        trans.append((src, dst, prob, entry))
    return final, trans
