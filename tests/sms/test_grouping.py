"""Group commit: whoever arrives while a commit runs shares the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sms.grouping import GroupCommit


class Store:
    def __init__(self, fail_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.fail_on = fail_on

    async def run(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        await asyncio.sleep(0.02)  # the commit's round trip
        if self.fail_on in items:
            raise ConnectionError("the database went away")
        return [item * 10 for item in items]


async def test_callers_arriving_during_a_commit_share_the_next_and_each_gets_its_own_answer() -> (
    None
):
    store = Store()
    group = GroupCommit(store.run)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.005)  # the first commit is on its way
    rest = await asyncio.gather(*(group.submit(n) for n in (2, 3, 4)))

    assert await first == 10 and rest == [20, 30, 40]
    assert store.groups == [[1], [2, 3, 4]]


async def test_a_failed_commit_fails_its_own_group_only() -> None:
    store = Store(fail_on=1)
    group = GroupCommit(store.run)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.005)
    second = asyncio.create_task(group.submit(2))

    with pytest.raises(ConnectionError):
        await first
    assert await second == 20


async def test_lingering_gathers_callers_up_to_the_batch_bound() -> None:
    store = Store()
    group = GroupCommit(store.run, max_batch=3, linger_s=0.05)
    answers = await asyncio.gather(*(group.submit(n) for n in range(5)))

    assert answers == [0, 10, 20, 30, 40]
    assert store.groups == [[0, 1, 2], [3, 4]]


async def test_a_group_goes_once_callers_stop_coming_not_after_the_whole_linger() -> None:
    store = Store()
    group = GroupCommit(store.run, linger_s=30.0, gap_s=0.01)
    answers = await asyncio.wait_for(asyncio.gather(*(group.submit(n) for n in range(4))), 5)

    assert answers == [0, 10, 20, 30]
    assert store.groups == [[0, 1, 2, 3]]


async def test_lingering_keeps_the_group_open_while_callers_keep_coming() -> None:
    store = Store()
    group = GroupCommit(store.run, linger_s=30.0, gap_s=0.05)

    async def trickle() -> list[int]:
        calls = []
        for n in range(4):
            calls.append(asyncio.create_task(group.submit(n)))
            await asyncio.sleep(0.005)  # well within the gap
        return list(await asyncio.gather(*calls))

    assert await trickle() == [0, 10, 20, 30]
    assert store.groups == [[0, 1, 2, 3]]
