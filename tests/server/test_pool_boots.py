"""Interpreters boot a few at a time: a burst of new sessions queues for its boots instead
of starting every interpreter at once (each would get a sliver of the cores, and one
past its 60 s start budget failed its request with a 500)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from remote_kernel.server.api_errors import ApiError
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


class FlakyShell(ShellRuntime):
    """A real bash session whose first ``failures`` starts fail, as a port race would."""

    failures = 0
    starts = 0

    async def start(self, workdir: Path) -> None:
        cls = type(self)
        cls.starts += 1
        if cls.starts <= cls.failures:
            raise RuntimeError("Kernel died before replying to kernel_info")
        await super().start(workdir)


def _acquire_with(tmp_path: Path, failures: int) -> tuple[bool, str]:
    FlakyShell.failures, FlakyShell.starts = failures, 0

    async def scenario() -> tuple[bool, str]:
        pool = SessionPool(
            lambda state: FlakyShell(state, mnt_data=False), root=tmp_path, prewarm=0
        )
        await pool.start()
        try:
            session, _ = await pool.acquire("flaky-boot")
            return session.runtime.is_alive(), ""
        except ApiError as exc:
            return False, f"{exc.status} {exc.code}: {exc.message}"
        finally:
            await pool.close()

    return asyncio.run(scenario())


def test_a_start_that_fails_once_is_tried_again(tmp_path: Path) -> None:
    assert _acquire_with(tmp_path, failures=1) == (True, "")
    assert FlakyShell.starts == 2


def test_a_start_that_fails_twice_is_a_clear_500(tmp_path: Path) -> None:
    alive, answer = _acquire_with(tmp_path, failures=2)
    assert not alive and FlakyShell.starts == 2
    assert answer == (
        "500 SessionStartFailed: Could not start the session's interpreter: "
        "Kernel died before replying to kernel_info"
    )
