"""engine/cmaes.py: the separable CMA-ES the style search runs on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicesmith.engine.cmaes import CMAState, SepCMAES


def test_sep_cmaes_improves_a_quadratic_and_stays_in_the_box():
    rng = np.random.default_rng(1)
    n = 20
    target = rng.uniform(-3, 3, n)
    es = SepCMAES(n, 10, -4.0, 4.0)
    state = es.initial_state(np.zeros(n), 0.7)
    f = lambda x: -np.sum((x - target) ** 2, axis=1)  # noqa: E731
    start = f(state.mean[None])[0]
    for _ in range(60):
        xs = es.ask(state, rng)
        assert np.all(xs >= -4) and np.all(xs <= 4)
        state = es.tell(state, xs, f(xs))
    assert f(state.mean[None])[0] > 0.5 * start  # at least halved the squared distance
    assert state.evaluations == 600 and state.generation == 60


def test_cmaes_state_round_trips_through_json():
    es = SepCMAES(8, 6, -4.0, 4.0)
    rng = np.random.default_rng(0)
    state = es.initial_state(np.zeros(8), 0.5)
    xs = es.ask(state, rng)
    state = es.tell(state, xs, -np.sum(xs**2, axis=1))
    again = CMAState.from_dict(json.loads(json.dumps(state.to_dict())))
    a, b = es.ask(state, np.random.default_rng(5)), es.ask(again, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert again.best_f == state.best_f


def test_popsize_must_be_even():
    with pytest.raises(ValueError):
        SepCMAES(4, 5, -1, 1)
