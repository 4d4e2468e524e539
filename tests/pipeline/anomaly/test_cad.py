"""The CAD OSE-style judges: the run-novelty judge (pipeline/anomaly/cad.py) and CAD OSE's own
context operator (pipeline/anomaly/cad_ose.py), worked by hand; bounded memory, state round trip."""

from __future__ import annotations

import json
import random

from pipeline.anomaly.cad import CadJudge, cad_raw, cad_rest
from pipeline.anomaly.cad_ose import NEURON, CadOse, cad_ose_scores


def test_levels_of_the_warmup_grid_by_hand() -> None:
    j = CadJudge(levels=2, depth=2, warmup=2)
    assert j.push(0.0) == 0.0 and j.push(2.0) == 0.0  # warm-up: lo 0, step 1
    assert [j.level(x) for x in (-0.1, 0.0, 0.99, 1.0, 2.0, 2.01)] == [0, 1, 1, 2, 2, 3]


def test_run_novelty_by_hand() -> None:
    j = CadJudge(levels=2, depth=2, warmup=2)
    j.push(0.0), j.push(2.0)
    # level 1; no history: nothing formed → 0
    assert j.push(0.5) == 0.0
    # order 1: left (1) unseen → not selected, new: (1 + 1/1) / 2
    assert j.push(0.5) == 1.0
    # order 1 selected and active; order 2 left (1, 1) unseen, new: (0 + 1/2) / 2
    assert j.push(0.5) == 0.25
    assert j.push(0.5) == 0.0  # both orders predicted
    # level 3 after (1, 1): both orders selected, neither active, both new: (1 + 2/2) / 2
    assert j.push(5.0) == 1.0


def test_memory_stays_bounded_and_keeps_the_recent_contexts() -> None:
    rng = random.Random(3)
    j = CadJudge(levels=8, depth=7, warmup=50, cap=64)
    for _ in range(5000):
        j.push(rng.random())
        assert len(j.ctx) <= 64 and len(j.left) <= 64
    assert min(j.ctx.values()) >= j.n - 5000  # only entries from the stream, newest kept
    assert max(j.ctx.values()) == j.n - 1


def test_state_round_trip_continues_identically() -> None:
    rng = random.Random(5)
    xs = [rng.gauss(0, 1) for _ in range(800)]
    a = CadJudge(warmup=100, cap=256)
    for x in xs[:500]:
        a.push(x)
    b = CadJudge.from_state(json.loads(json.dumps(a.state())))
    tail = [a.push(x) for x in xs[500:]]
    assert tail == [b.push(x) for x in xs[500:]]
    assert cad_raw(xs, warmup=100, cap=256)[500:].tolist() == tail


def test_cads_rest_rule_by_hand() -> None:
    # 0.8 is reported and silences the next 2 values; 0.9 (silenced) silences 2 more itself
    assert cad_rest([0.8, 0.5, 0.9, 0.2, 0.76, 0.3], rest=2).tolist() == [0.8, 0, 0, 0, 0, 0]
    assert cad_rest([0.8, 0.5, 0.6, 0.2], rest=2).tolist() == [0.8, 0, 0, 0.2]


def test_ose_facts_are_the_bits_of_the_scaled_value() -> None:
    d = CadOse(0.0, 7.0)  # 3 bits, step 1
    assert d.facts(5.0) == (1, 2, 5)          # 101: bit 0 = 1, bit 1 = 0, bit 2 = 1
    assert d.facts(0.0) == (0, 2, 4)
    assert d.facts(9.0) == (1, 2, 4, 7)       # above the range: a fourth bit, a new fact
    assert d.facts(-0.5) == (-1, 1, 2, 4)     # below it: the sign fact and the bits of 1


def test_ose_raw_anomalies_of_a_constant_series_by_hand() -> None:
    d = CadOse(0.0, 7.0, rest=3)
    raws, outs = zip(*(d.push(5.0) for _ in range(6)), strict=True)
    # 1: nothing stored, nothing selected: (1 − 0 + 0) / 2
    # 2: the full context (facts → facts) is new; nothing was crossed: (1 − 0 + 1/1) / 2
    # 3: it is selected and active, nothing new: 0; it becomes a neuron
    # 4: new full context (facts + neuron → facts); the old one selected, active: (1 − 1 + 1) / 2
    # 5: both selected and active, nothing new: 0
    # 6: both are neurons now: a new full context again; both old ones active: (1 − 1 + 1) / 2
    assert raws == (0.5, 1.0, 0.0, 0.5, 0.0, 0.5)
    assert d.left == (1, 2, 5, NEURON, NEURON + 1)
    # CAD starts silenced (as after a 1.0), the raw 1.0 of step 2 silences steps 3–5
    assert outs == (0.0, 0.0, 0.0, 0.0, 0.0, 0.5)


def test_ose_a_jump_after_a_rhythm_is_novel() -> None:
    xs = [0.0, 7.0] * 200 + [3.0]
    raw, out = cad_ose_scores(xs, 0.0, 7.0, rest=20)
    assert max(raw[300:400]) == 0.0  # the alternation is fully predicted
    assert raw[-1] >= 0.75 and out[-1] == raw[-1]


def test_ose_streaming_range_from_the_warmup() -> None:
    sf_rows = [float(v) for v in range(10)] + [100.0]
    raw, _ = cad_ose_scores(sf_rows, warmup=10)
    assert raw[-1] > 0.5  # far above the warm-up range: new facts
