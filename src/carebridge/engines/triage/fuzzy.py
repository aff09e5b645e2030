"""Small bounded spelling corrector for symptom words.

Patients misspell the very words that matter ("vomitting", "feaver",
"diarhoea"). A full fuzzy-search library is not allowed in engines, and we
only need to correct one word at a time against a vocabulary of a few
thousand entries, so a trigram index to pick candidates plus a banded
Damerau-Levenshtein check is enough and stays well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable

_MIN_LENGTH = 5
_CACHE_LIMIT = 20_000


def _trigrams(word: str) -> set[str]:
    padded = f"${word}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def bounded_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, or limit + 1 once it must exceed limit.

    Transpositions count as one edit because swapped letters ("caugh",
    "diarrohea") are the commonest typing slip.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        row_min = current[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and previous_previous:
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return previous[len(b)] if previous[len(b)] <= limit else limit + 1


def _swaps(word: str) -> list[str]:
    return [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]


def edit_limit(length: int) -> int:
    """Allowed edits grow with word length; short words are never corrected.

    Four-letter words are left alone because too many everyday words sit one
    edit away from a symptom word ("bike"/"bite", "feet"/"fever").
    """
    if length < _MIN_LENGTH:
        return 0
    return 1 if length <= 7 else 2


class FuzzyMatcher:
    """Maps an unknown word to the closest vocabulary word within a small edit budget."""

    __slots__ = ("_cache", "_index", "_known", "_target_set", "_targets")

    def __init__(self, targets: Iterable[str], known: Iterable[str]) -> None:
        self._targets: tuple[str, ...] = tuple(
            sorted({t for t in targets if len(t) >= _MIN_LENGTH - 1 and t.isascii() and t.isalpha()})
        )
        self._known: frozenset[str] = frozenset(known) | frozenset(self._targets)
        index: dict[str, list[int]] = {}
        for position, target in enumerate(self._targets):
            for gram in _trigrams(target):
                index.setdefault(gram, []).append(position)
        self._index: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in index.items()}
        self._cache: dict[str, str | None] = {}
        self._target_set = frozenset(self._targets)

    def is_known(self, word: str) -> bool:
        return word in self._known

    def correct(self, word: str) -> str | None:
        """Closest target word, or None when the word is known or nothing is close enough."""
        if word in self._known:
            return None
        cached = self._cache.get(word, "")
        if cached != "":
            return cached
        result = self._search(word)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = result
        return result

    def _search(self, word: str) -> str | None:
        if not (word.isascii() and word.isalpha()):
            return None
        if len(word) == _MIN_LENGTH - 1:
            return self._transposition(word)
        limit = edit_limit(len(word))
        if limit == 0:
            return None
        grams = _trigrams(word)
        shared: dict[int, int] = {}
        for gram in grams:
            for position in self._index.get(gram, ()):
                shared[position] = shared.get(position, 0) + 1
        # Each edit destroys at most three padded trigrams, so candidates that
        # share fewer cannot be within the limit.
        needed = max(1, len(grams) - 3 * limit)
        best: tuple[int, int, str] | None = None
        for position, count in shared.items():
            if count < needed:
                continue
            target = self._targets[position]
            distance = bounded_distance(word, target, limit)
            if distance > limit:
                continue
            key = (distance, -count, target)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    def _transposition(self, word: str) -> str | None:
        """Four-letter words are only corrected for swapped letters ("pian" -> "pain")."""
        for candidate in sorted(_swaps(word)):
            if candidate != word and candidate in self._target_set:
                return candidate
        return None
