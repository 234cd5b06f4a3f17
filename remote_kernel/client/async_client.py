"""The asynchronous client: the same methods as the sync client (``methods.py``), awaited."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from remote_kernel.client.messages import Seconds, Sleep, Step
from remote_kernel.client.methods import OPERATIONS, ClientMethods
from remote_kernel.client.models import ExecutionEvent
from remote_kernel.client.transport import AsyncAiohttpTransport


class AsyncSessionPoolClient(ClientMethods):
    """The asyncio twin of :class:`SessionPoolClient`: every operation is awaited."""

    transport_class = AsyncAiohttpTransport

    async def run(self, step: Step) -> Any:  # type: ignore[override]
        driven = self._policy.drive(step)
        try:
            instruction = next(driven)
            while True:
                if isinstance(instruction, Sleep):
                    await asyncio.sleep(instruction.seconds)
                    instruction = driven.send(None)
                else:
                    headers = await self._auth.aheader()
                    answer = await self._transport.send(instruction, headers)
                    instruction = driven.send(answer)
        except StopIteration as stop:
            return stop.value
        finally:
            driven.close()

    async def stream(
        self,
        code: str,
        *,
        session: str,
        timeout: Seconds = None,
        execution_id: str | None = None,
    ) -> AsyncIterator[ExecutionEvent]:
        """``async for event in client.stream(code, session=...)``: each output event as
        it happens, then one ``kind == "result"`` event holding the ExecutionResult.

        Leaving the loop early does not cancel the run (use ``cancel_execution``).
        """
        events: asyncio.Queue[ExecutionEvent] = asyncio.Queue()
        run = asyncio.ensure_future(
            self.execute(
                code,
                session=session,
                timeout=timeout,
                execution_id=execution_id,
                on_event=events.put_nowait,
            )
        )
        try:
            while not (run.done() and events.empty()):
                getter = asyncio.ensure_future(events.get())
                await asyncio.wait({getter, run}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            result = run.result()
            yield ExecutionEvent("result", id=None, result=result)
        finally:
            if not run.done():
                run.cancel()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncSessionPoolClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _awaited(method: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``method`` (which returns ``self.run(...)``, a coroutine here) as an ``async def``."""

    @functools.wraps(method)
    async def call(self: AsyncSessionPoolClient, *args: Any, **kwargs: Any) -> Any:
        return await method(self, *args, **kwargs)

    return call


for _name in OPERATIONS:
    setattr(AsyncSessionPoolClient, _name, _awaited(getattr(ClientMethods, _name)))
