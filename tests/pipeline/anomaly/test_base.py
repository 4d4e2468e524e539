"""The slot snapshots every detector's ``state`` / ``from_state`` is built on."""

import json

import pytest

from pipeline.anomaly.base import restore_slots, slots_state


class _Base:
    __slots__ = ("n", "hist")


class _Child(_Base):
    __slots__ = ("inner", "flag")


def _child() -> _Child:
    c = _Child()
    c.n, c.hist, c.inner, c.flag = 3, [1.0, 2.0], object(), False
    return c


def test_a_snapshot_holds_every_slot_of_the_class_and_its_bases_but_the_skipped():
    state = slots_state(_child(), ("inner",))
    assert state == {"n": 3, "hist": [1.0, 2.0], "flag": False}
    json.dumps(state)


def test_neither_the_snapshot_nor_the_restored_object_shares_a_list():
    c = _child()
    state = slots_state(c, ("inner",))
    c.hist.append(9.0)
    assert state["hist"] == [1.0, 2.0]
    back = restore_slots(_Child, state, ("inner",))
    state["hist"].append(7.0)
    assert type(back) is _Child and back.hist == [1.0, 2.0] and back.n == 3 and back.flag is False
    assert not hasattr(back, "inner")  # skipped: the caller restores it


def test_a_slot_missing_from_an_old_state_takes_its_stated_default_or_is_refused():
    old = {"n": 1, "hist": []}
    assert restore_slots(_Child, old, ("inner",), {"flag": True}).flag is True
    with pytest.raises(KeyError, match="flag"):
        restore_slots(_Child, old, ("inner",))
