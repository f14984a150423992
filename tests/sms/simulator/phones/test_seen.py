"""The simulator remembers the phones and codes it met, each once, newest last, a few
hundred at most (a workshop day must not grow it without end)."""

from __future__ import annotations

from sms.simulator.phones.seen import Seen


def test_a_phone_met_again_moves_to_the_end_and_is_listed_once() -> None:
    seen = Seen()
    seen.phone("+254712100002")
    seen.dialled("+254712100003", "*384*2541#")
    seen.phone("+254712100002")

    assert seen.phones == ["+254712100003", "+254712100002"]
    assert seen.service_codes == ["*384*2541#"]


def test_only_the_latest_are_kept() -> None:
    seen = Seen(keep=3)
    for n in range(5):
        seen.dialled(f"+25471210000{n}", f"*384*{n}#")

    assert seen.phones == ["+254712100002", "+254712100003", "+254712100004"]
    assert seen.service_codes == ["*384*2#", "*384*3#", "*384*4#"]
