"""engine/budgets.py: named budgets and per-request overrides."""

import pytest

from voicesmith.engine.budgets import budget_from_params


def test_budget_params():
    tiny = budget_from_params({"budget": "tiny", "generations": 5})
    assert tiny.generations == 5 and tiny.popsize == budget_from_params({"budget": "tiny"}).popsize
    with pytest.raises(ValueError):
        budget_from_params({"budget": "huge"})
