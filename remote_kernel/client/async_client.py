"""The asynchronous client: the same methods as the sync client (``methods.py``), awaited."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from remote_kernel.client.messages import Sleep, Step
from remote_kernel.client.methods import OPERATIONS, ClientMethods
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
