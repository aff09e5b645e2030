"""Start-up preloading of the interaction knowledge: built once, then kept out of the garbage collector's walk."""

from __future__ import annotations

import gc

from carebridge.engines.interactions import load_knowledge, preload


def test_preload_builds_the_knowledge_base_and_freezes_the_heap_once() -> None:
    kb = preload()
    assert kb is load_knowledge()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    junk = [object() for _ in range(1000)]
    preload()
    assert gc.get_freeze_count() == frozen  # a second app start-up in the same process freezes nothing more
    assert len(junk) == 1000
