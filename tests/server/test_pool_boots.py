"""Interpreters boot a few at a time: a burst of new sessions queues for its boots instead
of starting every interpreter at once (each would get a sliver of the cores, and one
past its 60 s start budget failed its request with a 500)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from remote_kernel.server.pool import START_CONCURRENCY, SessionPool
from remote_kernel.server.runtimes.shell import ShellRuntime


class CountedShell(ShellRuntime):
    """A real bash session whose start is slow and counted."""

    running = 0
    most = 0

    async def start(self, workdir: Path) -> None:
        cls = type(self)
        cls.running += 1
        cls.most = max(cls.most, cls.running)
        try:
            await asyncio.sleep(0.2)  # a boot takes a while
            await super().start(workdir)
        finally:
            cls.running -= 1


def test_a_burst_of_sessions_boots_a_few_at_a_time(tmp_path: Path) -> None:
    burst = START_CONCURRENCY * 3

    async def scenario() -> list[bool]:
        pool = SessionPool(
            lambda state: CountedShell(state, mnt_data=False), root=tmp_path, prewarm=0
        )
        await pool.start()
        try:
            made = await asyncio.gather(*(pool.acquire(f"boot-{k}") for k in range(burst)))
            return [created and session.runtime.is_alive() for session, created in made]
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == [True] * burst
    assert CountedShell.most == START_CONCURRENCY
