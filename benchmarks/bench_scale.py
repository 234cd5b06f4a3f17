"""Agent-scale throughput of the async and sync clients (run by hand).

    python benchmarks/bench_scale.py [--repeat 3] [--sessions 1,100,500]

A stand-in pool answers every generation-2 ``POST /executions`` after a fixed
latency (20 ms), over TLS with a ``trustme`` localhost certificate. It is a plain
``aiohttp.web`` server in its own process: no extra dependency (aiohttp is here
anyway), its HTTP parser is C, and in a separate process it has its own GIL, so
it is not the bottleneck. That is measured, not assumed: the server's CPU time per
request gives the rate it could serve on one core ("stand-in capacity"), printed
next to the raw aiohttp loop's rate.

Each contender runs in a fresh child process (so its peak RSS growth is its own),
``N`` sessions at once, 10 sequential executions each. Contenders are interleaved
within a repetition, so load from elsewhere on the machine hits all of them; the
report gives medians over repetitions and each one's ratio to the raw aiohttp
loop of the same repetition.

Async contenders: our ``AsyncSessionPoolClient`` as shipped ("ours": aiohttp, JSON
requests through ``AiohttpTransport.fetch``), the same client on httpx's own pool
(``AsyncHTTPXTransport``, the shipped wire before issue 16: "ours+httpx") and on
httpx over ``AiohttpTransport`` ("ours+aiohttp"), over httpx-aiohttp's transport
(``pip install httpx-aiohttp``; a candidate only), httpx with a larger pool, and
raw aiohttp / httpx / httpx2 loops. Sync:
``SessionPoolClient`` shared by 64 threads vs a raw ``httpx.Client`` shared by 64
threads. "cpu us" is the client process's CPU time per execution: on a loaded
machine the steadiest column, and at high concurrency what throughput follows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

API_VERSION = "2025-02-02-preview"
EXECS_PER_SESSION = 10
MAX_CONNECTIONS = 200  # what AsyncSessionPoolClient ships with
BASELINE = "raw-aiohttp"
SYNC_BASELINE = "sync-raw-httpx"


# ------------------------------------------------------------------ stand-in pool
def serve(port_file: str, cert: str, key: str, latency: float) -> None:
    """The stand-in pool: answers an execution like the real pool, after ``latency``."""
    from aiohttp import web

    async def execute(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(latency)
        ident = request.query.get("identifier", "")
        eid = body.get("id") or str(uuid.uuid4())
        return web.json_response(
            {
                "id": eid,
                "identifier": ident,
                "sessionId": ident,
                "executionType": "Synchronous",
                "status": "Succeeded",
                "result": {
                    "stdout": "",
                    "stderr": "",
                    "executionResult": 2,
                    "executionTimeInMilliseconds": int(latency * 1000),
                },
            }
        )

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_post("/executions", execute)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        Path(port_file).write_text(str(port))
        await asyncio.Event().wait()

    asyncio.run(main())


def start_stand_in(tmp: Path, latency: float) -> tuple[subprocess.Popen, str, str]:
    """(process, https URL, CA file) of a stand-in pool with a fresh trustme certificate."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port_file = tmp / "port"
    cmd = [sys.executable, __file__, "--serve", str(port_file), str(cert_file), str(key_file)]
    proc = subprocess.Popen([*cmd, "--latency", str(latency)])
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the stand-in pool did not start")
        time.sleep(0.05)
    return proc, f"https://127.0.0.1:{port_file.read_text()}", str(ca_file)


# ------------------------------------------------------------------ measuring
class Tally:
    """Latencies and errors of one contender's run."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    def error(self, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {str(exc)[:90]}"
        self.errors[key] = self.errors.get(key, 0) + 1

    def check(self, ident: str, got: Any) -> None:
        if got != ident:
            self.error(ValueError(f"answer for session {got!r}, expected {ident!r}"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def body() -> dict[str, Any]:
    return {"code": "1+1", "executionType": "Synchronous", "timeoutInSeconds": 220}


def params(ident: str) -> dict[str, str]:
    return {"api-version": API_VERSION, "identifier": ident}


async def drive_async(
    sessions: int, one: Callable[[str, Tally], Awaitable[None]], tally: Tally
) -> None:
    async def session(i: int) -> None:
        ident = f"bench-{i}-{uuid.uuid4().hex[:8]}"
        for _ in range(EXECS_PER_SESSION):
            t0 = time.perf_counter()
            try:
                await one(ident, tally)
            except Exception as exc:  # counted, the session goes on
                tally.error(exc)
                continue
            tally.latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(session(i) for i in range(sessions)))


def our_async(url: str, transport: Any = None, wire: str = "shipped"):
    """``wire``: "shipped" (the client's default transport class) or "httpx" (every
    request through httpx, ``AsyncHTTPXTransport``, over ``transport`` if given)."""
    from remote_kernel.client import AsyncSessionPoolClient
    from remote_kernel.client.transport import AsyncHTTPXTransport

    cls = AsyncSessionPoolClient
    if wire == "httpx":
        cls = type(
            "HttpxClient", (AsyncSessionPoolClient,), {"transport_class": AsyncHTTPXTransport}
        )
    client = cls(url, api_version=API_VERSION, transport=transport)

    async def one(ident: str, tally: Tally) -> None:
        result = await client.execute("1+1", session=ident)
        tally.check(ident, result.raw.get("identifier"))

    return one, client.aclose


def raw_httpx(url: str, module: str = "httpx", connections: int = MAX_CONNECTIONS):
    http_mod = __import__(module)
    limits = http_mod.Limits(max_connections=connections, max_keepalive_connections=connections)
    http = http_mod.AsyncClient(base_url=url, limits=limits, timeout=60)

    async def one(ident: str, tally: Tally) -> None:
        r = await http.post("/executions", params=params(ident), json=body())
        r.raise_for_status()
        tally.check(ident, r.json()["identifier"])

    return one, http.aclose


def raw_aiohttp(url: str):
    import aiohttp

    holder: dict[str, aiohttp.ClientSession] = {}

    async def one(ident: str, tally: Tally) -> None:
        if "s" not in holder:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
            holder["s"] = aiohttp.ClientSession(url, connector=connector)
        async with holder["s"].post("/executions", params=params(ident), json=body()) as r:
            r.raise_for_status()
            tally.check(ident, (await r.json())["identifier"])

    async def close() -> None:
        if "s" in holder:
            await holder["s"].close()

    return one, close


def async_contender(name: str, url: str):
    import httpx

    if name == "ours":  # AsyncSessionPoolClient exactly as shipped
        return our_async(url)
    if name == "ours+httpx":  # the wire before issue 16: httpx's own pool
        return our_async(url, wire="httpx")
    if name == "ours+aiohttp":  # httpx objects for every request, over aiohttp
        from remote_kernel.client.aiohttp_transport import AiohttpTransport

        return our_async(url, AiohttpTransport(max_connections=MAX_CONNECTIONS), wire="httpx")
    if name == "ours+httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport as Foreign

        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, keepalive_expiry=60)
        return our_async(url, Foreign(limits=limits), wire="httpx")
    if name == "ours+httpx-1000":  # the "just raise the limits" option
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        return our_async(url, httpx.AsyncHTTPTransport(limits=limits), wire="httpx")
    if name == "raw-httpx":
        return raw_httpx(url)
    if name == "raw-httpx2":
        return raw_httpx(url, "httpx2")
    if name == BASELINE:
        return raw_aiohttp(url)
    raise SystemExit(f"unknown contender {name!r}")


def run_async(name: str, url: str, sessions: int) -> tuple[Tally, float]:
    async def main() -> tuple[Tally, float]:
        one, close = async_contender(name, url)
        tally = Tally()
        await drive_async(1, one, Tally())  # warm: TLS context, imports, first connection
        t0 = time.perf_counter()
        await drive_async(sessions, one, tally)
        wall = time.perf_counter() - t0
        await close()
        return tally, wall

    return asyncio.run(main())


def run_sync(name: str, url: str, threads: int) -> tuple[Tally, float]:
    import httpx

    from remote_kernel.client import SessionPoolClient

    tally = Tally()
    lock = threading.Lock()
    if name == "sync-ours":
        client = SessionPoolClient(url, api_version=API_VERSION)

        def one(ident: str) -> Any:
            return client.execute("1+1", session=ident).raw.get("identifier")

        close = client.close
    elif name == SYNC_BASELINE:
        http = httpx.Client(
            base_url=url,
            timeout=60,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100),
        )

        def one(ident: str) -> Any:
            r = http.post("/executions", params=params(ident), json=body())
            r.raise_for_status()
            return r.json()["identifier"]

        close = http.close
    else:
        raise SystemExit(f"unknown contender {name!r}")

    def worker(i: int) -> None:
        ident = f"bench-t{i}-{uuid.uuid4().hex[:8]}"
        for _ in range(EXECS_PER_SESSION * 2):
            t0 = time.perf_counter()
            try:
                got = one(ident)
            except Exception as exc:
                with lock:
                    tally.error(exc)
                continue
            with lock:
                tally.latencies.append(time.perf_counter() - t0)
                tally.check(ident, got)

    one("warm-up")
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    close()
    return tally, wall


def child(name: str, url: str, sessions: int) -> None:
    """One contender, one concurrency, in this fresh process; prints a JSON line."""
    import httpx  # noqa: F401  (imports count as baseline, not as growth)

    import remote_kernel.client  # noqa: F401

    before = rss_mb()
    runner = run_sync if name.startswith("sync-") else run_async
    cpu = time.process_time()
    tally, wall = runner(name, url, sessions)
    cpu = time.process_time() - cpu
    lat = sorted(tally.latencies) or [float("nan")]
    print(
        json.dumps(
            {
                "n": len(tally.latencies),
                "rate": len(tally.latencies) / wall,
                "p50": lat[len(lat) // 2] * 1000,
                "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
                "errors": sum(tally.errors.values()),
                "error_kinds": tally.errors,
                "rss": max(0.0, peak_rss_mb() - before),
                "cpu_us": cpu / max(1, len(tally.latencies)) * 1e6,
            }
        )
    )


# ------------------------------------------------------------------ the report
def measure(
    name: str, url: str, ca: str, sessions: int, server: Any, timeout: float
) -> dict[str, Any]:
    env = {**os.environ, "SSL_CERT_FILE": ca}  # every client trusts the trustme CA
    cpu0 = sum(server.cpu_times()[:2])
    cmd = [sys.executable, __file__, "--child", name, url, str(sessions)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"no answer within {timeout:g} s"}
    if out.returncode != 0:
        return {"failed": out.stderr.strip().splitlines()[-1] if out.stderr else "crashed"}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = sum(server.cpu_times()[:2]) - cpu0
    row["capacity"] = row["n"] / cpu if cpu > 0 else float("inf")
    return row


def median(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


def report(results: dict[tuple[str, int], list[dict[str, Any]]], baseline: str) -> None:
    print(
        f"\n{'contender':<22}{'N':>5}{'exec/s':>9}{'x base':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'p99 x':>7}{'errors':>8}{'RSS MB':>8}{'cpu us':>8}{'srv cap/s':>10}"
    )
    for (name, sessions), rows in results.items():
        ok = [r for r in rows if "rate" in r]
        base = results.get((baseline, sessions), [])
        ratios = [
            r["rate"] / b["rate"]
            for r, b in zip(rows, base, strict=True)
            if "rate" in r and "rate" in b
        ]
        p99x = [
            r["p99"] / b["p99"]
            for r, b in zip(rows, base, strict=True)
            if "p99" in r and "p99" in b
        ]
        if not ok:
            print(f"{name:<22}{sessions:>5}  failed: {rows[0].get('failed')}")
            continue
        print(
            f"{name:<22}{sessions:>5}{median(ok, 'rate'):>9.0f}"
            f"{statistics.median(ratios) if ratios else float('nan'):>8.2f}"
            f"{median(ok, 'p50'):>9.0f}{median(ok, 'p99'):>9.0f}"
            f"{statistics.median(p99x) if p99x else float('nan'):>7.2f}"
            f"{max(r['errors'] for r in ok):>8}{median(ok, 'rss'):>8.1f}{median(ok, 'cpu_us'):>8.0f}"
            f"{median(ok, 'capacity'):>10.0f}"
        )
        kinds: dict[str, int] = {}
        for r in ok:
            for k, v in r["error_kinds"].items():
                kinds[k] = kinds.get(k, 0) + v
        for k, v in list(kinds.items())[:2]:
            print(f"{'':<27}{v} x {k}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sessions", default="1,100,500")
    parser.add_argument(
        "--contenders",
        default="raw-aiohttp,ours,ours+aiohttp,ours+httpx,ours+httpx-aiohttp,ours+httpx-1000,raw-httpx,raw-httpx2",
    )
    parser.add_argument("--threads", type=int, default=64, help="0: skip the sync part")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--child-timeout", type=float, default=300.0)
    parser.add_argument("--serve", nargs=3, metavar=("PORT_FILE", "CERT", "KEY"))
    parser.add_argument("--child", nargs=3, metavar=("NAME", "URL", "SESSIONS"))
    args = parser.parse_args()
    if args.serve:
        return serve(*args.serve, latency=args.latency)
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))

    import psutil

    names = [n for n in args.contenders.split(",") if n]
    levels = [int(n) for n in args.sessions.split(",") if n]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    sync_results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, ca = start_stand_in(Path(tmp), args.latency)
        server = psutil.Process(proc.pid)
        print(f"stand-in pool (aiohttp.web, TLS, {args.latency * 1000:g} ms) at {url}")
        try:
            for rep in range(args.repeat):
                for sessions in levels:
                    for name in names:
                        row = measure(name, url, ca, sessions, server, args.child_timeout)
                        results.setdefault((name, sessions), []).append(row)
                        print(f"  rep {rep + 1} {name} N={sessions}: {_short(row)}", flush=True)
                for name in ("sync-ours", SYNC_BASELINE) if args.threads else ():
                    row = measure(name, url, ca, args.threads, server, args.child_timeout)
                    sync_results.setdefault((name, args.threads), []).append(row)
                    print(f"  rep {rep + 1} {name} T={args.threads}: {_short(row)}", flush=True)
        finally:
            proc.kill()
            proc.wait()
    print(f"\nmedians of {args.repeat} runs; ratios against {BASELINE} of the same run")
    report(results, BASELINE)
    if sync_results:
        print(f"\nsync clients, {args.threads} threads; ratios against {SYNC_BASELINE}")
        report(sync_results, SYNC_BASELINE)


def _short(row: dict[str, Any]) -> str:
    if "rate" not in row:
        return row["failed"]
    return f"{row['rate']:.0f}/s p99 {row['p99']:.0f} ms, {row['errors']} errors"


if __name__ == "__main__":
    main()
