"""Raw httpx against a pool's REST routes, for the server and session tests: real HTTP
and none of the project's client, so these tests see exactly what goes over the wire.

Importable from every suite because ``tests/`` is their packages' base directory.
"""

from __future__ import annotations

from typing import Any

import httpx

from remote_kernel.server import LocalPool
from remote_kernel.server.versions import shape_for

GEN1 = "2024-02-02-preview"
GEN2 = "2024-10-02-preview"


class Api:
    """One pool's routes; knows its query parameters. ``run``/``run1`` assert HTTP 200.

    ``Api(local_pool)`` sends no token (``token=`` gives one); ``Api.of(local_pool)``
    uses the pool's own; ``Api(url, token)`` reaches a pool by its address.
    """

    def __init__(self, pool: LocalPool | str, token: str | None = None) -> None:
        self.pool = pool if isinstance(pool, LocalPool) else None
        url = pool.url if isinstance(pool, LocalPool) else pool
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=120)

    @classmethod
    def of(cls, pool: LocalPool) -> Api:
        return cls(pool, pool.token)

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        sid: str | None = None,
        *,
        version: str = GEN2,
        params: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        query = {"api-version": version, **({"identifier": sid} if sid else {}), **(params or {})}
        return self.http.request(method, path, params=query, **kwargs)

    #: The sessions suite's name for :meth:`request`.
    call = request

    def run(self, sid: str, code: str, *, version: str = GEN2, **body: Any) -> dict[str, Any]:
        """Synchronous generation-2 execution: the whole body (its version's status asserted)."""
        response = self.request(
            "POST", "/executions", sid, version=version, json={"code": code, **body}
        )
        assert response.status_code == shape_for(version).execute_status, response.text
        return response.json()  # type: ignore[no-any-return]

    def run1(self, sid: str, code: str, **props: Any) -> dict[str, Any]:
        """Generation-1 execution: ``properties``."""
        body = {"properties": {"codeInputType": "inline", "executionType": "synchronous",
                               "code": code, **props}}  # fmt: skip
        response = self.request("POST", "/code/execute", sid, version=GEN1, json=body)
        assert response.status_code == 200, response.text
        return response.json()["properties"]  # type: ignore[no-any-return]

    def ok(self, sid: str, code: str) -> dict[str, Any]:
        """Generation-2 ``result`` of code that must succeed."""
        body = self.run(sid, code)
        assert body["status"] == "Succeeded", body["result"]["stderr"]
        return body["result"]  # type: ignore[no-any-return]

    def value(self, sid: str, code: str) -> Any:
        """The ``executionResult`` of code that must succeed."""
        return self.ok(sid, code)["executionResult"]

    def upload(self, sid: str, name: str, data: bytes) -> None:
        response = self.request("POST", "/files", sid, files={"file": (name, data)})
        assert response.status_code == 200, response.text

    def download(self, sid: str, name: str, *, version: str = GEN2) -> bytes:
        path = f"/files/content/{name}" if version == GEN1 else f"/files/{name}/content"
        response = self.request("GET", path, sid, version=version)
        assert response.status_code == 200, response.text
        return response.content

    def names(self, sid: str) -> list[str]:
        response = self.request("GET", "/files", sid)
        assert response.status_code == 200, response.text
        return [entry["name"] for entry in response.json()["value"]]

    def delete(self, sid: str) -> None:
        self.request("DELETE", "/session", sid)


def error_code(response: httpx.Response) -> str:
    """The Azure error code, checked to be in both the body and the header."""
    code = response.json()["error"]["code"]
    assert response.headers["x-ms-error-code"] == code
    assert response.json()["error"]["message"]
    return code
