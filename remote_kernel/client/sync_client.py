"""The synchronous client: drives each operation's step over a blocking transport."""

from __future__ import annotations

import time
from typing import Any

from remote_kernel.client.messages import Sleep, Step
from remote_kernel.client.methods import ClientMethods
from remote_kernel.client.transport import HTTPXTransport


class SessionPoolClient(ClientMethods):
    """A session-pool client with one keep-alive connection pool per object."""

    transport_class = HTTPXTransport

    def run(self, step: Step) -> Any:
        driven = self._policy.drive(step)
        try:
            instruction = next(driven)
            while True:
                if isinstance(instruction, Sleep):
                    time.sleep(instruction.seconds)
                    instruction = driven.send(None)
                else:
                    answer = self._transport.send(instruction, self._auth.header())
                    instruction = driven.send(answer)
        except StopIteration as stop:
            return stop.value
        finally:
            driven.close()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> SessionPoolClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
