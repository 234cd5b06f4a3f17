"""Raw-httpx helpers for the server tests (real HTTP, no project client)."""

from __future__ import annotations

from typing import Any

import httpx

from remote_kernel.server import LocalPool
from remote_kernel.server.versions import shape_for

GEN1 = "2024-02-02-preview"
GEN2 = "2024-10-02-preview"


class Api:
    """A thin httpx wrapper that knows the pool's query parameters."""

    def __init__(self, pool: LocalPool, *, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.pool = pool
        self.http = httpx.Client(base_url=pool.url, headers=headers, timeout=120)

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

    def run(self, sid: str, code: str, *, version: str = GEN2, **body: Any) -> dict[str, Any]:
        """Synchronous generation-2 execution; asserts its version's status, returns the body."""
        response = self.request(
            "POST", "/executions", sid, version=version, json={"code": code, **body}
        )
        assert response.status_code == shape_for(version).execute_status, response.text
        return response.json()

    def run1(self, sid: str, code: str, **props: Any) -> dict[str, Any]:
        """Generation-1 execution; returns ``properties``."""
        body = {"properties": {"codeInputType": "inline", "executionType": "synchronous",
                               "code": code, **props}}  # fmt: skip
        response = self.request("POST", "/code/execute", sid, version=GEN1, json=body)
        assert response.status_code == 200, response.text
        return response.json()["properties"]

    def value(self, sid: str, code: str) -> Any:
        body = self.run(sid, code)
        assert body["status"] == "Succeeded", body["result"]["stderr"]
        return body["result"]["executionResult"]


def error_code(response: httpx.Response) -> str:
    """The Azure error code, checked to be in both the body and the header."""
    code = response.json()["error"]["code"]
    assert response.headers["x-ms-error-code"] == code
    assert response.json()["error"]["message"]
    return code
