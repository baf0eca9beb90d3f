"""engine/budgets.py: named budgets and per-request overrides."""

import pytest

from voicesmith.engine.budgets import budget_from_params


def test_budget_params():
    tiny = budget_from_params({"budget": "tiny", "generations": 5})
    assert tiny.generations == 5 and tiny.popsize == budget_from_params({"budget": "tiny"}).popsize
    with pytest.raises(ValueError):
        budget_from_params({"budget": "huge"})


def test_planned_work_grows_with_the_budget_and_the_audio():
    from voicesmith.engine.budgets import BUDGETS, STAGE_WORK, planned_work

    tiny, default, most = (planned_work(BUDGETS[n], 120.0, analysed=True) for n in ("tiny", "default", "max"))
    assert list(tiny) == list(STAGE_WORK)
    for stage in ("adapt", "evaluate"):
        assert tiny[stage] < default[stage] < most[stage]
    longer = planned_work(BUDGETS["tiny"], 1200.0, analysed=True)
    assert longer["prepare"] > tiny["prepare"] and longer["adapt"] == tiny["adapt"]
    # Analyses the dataset report already made are reused, so ingest has less to do.
    assert planned_work(BUDGETS["tiny"], 120.0, analysed=False)["ingest"] > tiny["ingest"]


def test_expected_seconds_applies_each_stages_measured_pace():
    from voicesmith.engine.budgets import expected_seconds

    work = {"ingest": 1.0, "prepare": 2.0, "adapt": 10.0, "evaluate": 5.0}
    assert expected_seconds(work, None) == work
    assert expected_seconds(work, {"adapt": 3.0}) == {"ingest": 1.0, "prepare": 2.0, "adapt": 30.0, "evaluate": 5.0}
