"""Subject search by id."""

from __future__ import annotations

import pandas as pd

from app.core.subject_search import find_subjects

IDS = pd.Index(["S0012", "S0120", "S1200", "X0012", "s0012b"])


def test_exact_then_prefix_then_contains():
    assert find_subjects(" s0012 ", IDS) == ["S0012", "s0012b"]
    assert find_subjects("0012", IDS) == ["S0012", "X0012", "s0012b"]
    assert find_subjects("S012", IDS) == ["S0120"]
    assert find_subjects("12", IDS, limit=2) == ["S0012", "S0120"]


def test_nothing_for_empty_or_unknown_text():
    assert find_subjects("", IDS) == [] and find_subjects("   ", IDS) == [] and find_subjects("Z9", IDS) == []
    assert find_subjects(".*", IDS) == []  # text, not a pattern
