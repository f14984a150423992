"""The sending threads: blocking SDK calls off the event loop, as many at once as asked.

`asyncio.to_thread` lends asyncio's default executor, which has min(32, CPUs + 4)
threads (6 on a two-core machine) shared by every blocking call of the process: a
policy of 8 SMS requests and 32 WhatsApp requests at a time would get 6 between them.
A sender's gateway calls (SMS and WhatsApp) get a pool of their own, sized by its
policy, one per name and size in the process (a worker builds its sender once; tests
build many).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


@functools.cache
def pool(name: str, size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)


async def in_thread(
    threads: ThreadPoolExecutor, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`call` in one of `threads`, with this task's context (log bindings), as
    `asyncio.to_thread` does in the default executor."""
    context = contextvars.copy_context()
    run = functools.partial(context.run, call, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(threads, run)
