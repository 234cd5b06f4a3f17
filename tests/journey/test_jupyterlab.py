"""JupyterLab on 127.0.0.1, driven by a real headless Chromium (Playwright with
Debian's ``chromium``): pick "Python (remote session)" in the launcher, run cells,
see their text and image outputs in the page. A screenshot is kept under
test-artifacts/.

The browser is required: the ``chromium`` fixture installs Debian's package when it
is missing and may (root or passwordless sudo), and fails with the fix otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from .conftest import ARTIFACTS, clean_env, jupyter_dirs, run_cli, session_ids

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds for one step in the page (first cells start the kernel and a session).
STEP_MS = 60_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    def __init__(self, url: str, token: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.token, self.proc, self.log = url, token, proc, log


def wait_until_up(server: LabServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"JupyterLab exited: {server.log.read_text()[-2000:]}")
        try:
            r = httpx.get(f"{server.url}/api/status", params={"token": server.token}, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"JupyterLab did not start: {server.log.read_text()[-2000:]}")


def stop(server: LabServer) -> list[int]:
    """Stop the server (it shuts its kernels down); return pids it left running."""
    try:
        children = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    for proc in alive:
        proc.kill()
    return [p.pid for p in alive]


def start_lab(env: dict[str, str], home: Path, tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 with ``env`` (its kernels inherit it); stopped at the end,
    leaving no process behind."""
    # No news or update checks: the page makes no request outside the loopback server.
    labconfig = home / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    root = tmp_path / "notebooks"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={tmp_path / 'lab-settings'}",
                f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
                # Nothing asks PyPI or jupyter.org (extension manager, news, updates).
                "--LabApp.extension_manager=readonly",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, proc, log)
    try:
        wait_until_up(server, time.monotonic() + 90)
        yield server
    finally:
        leftovers = stop(server)
        assert leftovers == [], f"JupyterLab left processes running: {leftovers}"


@pytest.fixture
def lab(spec_prefix: Path, local_pool: Any, tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab with the kernelspec found through JUPYTER_PATH and the test pool in
    its environment (its kernels inherit it)."""
    home = tmp_path / "jupyter"
    yield from start_lab(clean_env(local_pool, **jupyter_dirs(home, spec_prefix)), home, tmp_path)


@pytest.fixture
def javascript_lab(tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab offering "JavaScript (remote session)", with no endpoint anywhere: the
    kernel starts an embedded pool of JavaScript sessions, as a user's would."""
    prefix, home = tmp_path / "prefix", tmp_path / "jupyter"
    env = clean_env(**jupyter_dirs(home, prefix))
    install = run_cli(["install", "--language", "javascript", "--prefix", str(prefix)], env)
    assert install.returncode == 0, install.stderr
    yield from start_lab(env, home, tmp_path)


def run_cell(page: Any, code: str) -> None:
    """Type ``code`` into the active cell and run it with Shift+Enter."""
    editor = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content")
    editor.click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


@contextlib.contextmanager
def lab_page(chromium: Path, lab: LabServer, failure_png: str) -> Iterator[Any]:
    """A Chromium page on ``lab``. A failing step keeps a screenshot (``failure_png`` under
    test-artifacts/) and fails with the tail of JupyterLab's log."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_MS)  # expect() has its own 5 s default, too short here
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(STEP_MS)
        try:
            page.goto(f"{lab.url}/lab?token={lab.token}")
            yield page
        except Exception as exc:
            failed = ARTIFACTS / failure_png
            page.screenshot(path=str(failed), full_page=True)
            log = lab.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{exc}\n(page: {failed})\nJupyterLab log:\n{log}") from exc
        finally:
            browser.close()


def open_notebook(page: Any, kernel_display_name: str) -> None:
    """Pick the kernel in the launcher and wait for it as a person would: JupyterLab drops a
    Shift+Enter sent before the kernel's first idle (the cell stays "[ ]:")."""
    from playwright.sync_api import expect

    card = page.locator(
        f'.jp-LauncherCard[data-category="Notebook"][title="{kernel_display_name}"]'
    )
    expect(card).to_be_visible()
    card.click()
    expect(page.locator(".jp-Notebook")).to_be_visible()
    kernel_name = page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")
    expect(kernel_name).to_have_text(kernel_display_name)
    indicator = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")
    expect(indicator).to_have_attribute("data-status", "idle")


def expect_execution_counts(page: Any, count: int) -> None:
    """Each cell got its count: the kernel answered, not just IOPub (the reply may land just
    after the streamed outputs)."""
    from playwright.sync_api import expect

    prompts = page.locator(".jp-InputArea-prompt")
    for n in range(count):
        expect(prompts.nth(n)).to_have_text(f"[{n + 1}]:")


# Only the page steps count against the timeout: the chromium fixture may first run
# apt-get on a fresh machine (bounded by its own timeout), and JupyterLab has its own.
@pytest.mark.timeout(120, func_only=True)
def test_jupyterlab_runs_cells_on_the_remote_kernel(
    chromium: Path, lab: LabServer, local_pool: Any
) -> None:
    from playwright.sync_api import expect

    sessions_before = session_ids(local_pool)
    shot = ARTIFACTS / "jupyterlab-remote-kernel.png"
    with lab_page(chromium, lab, "jupyterlab-failure.png") as page:
        # The launcher lists the remote kernel; picking it makes a notebook on it.
        open_notebook(page, "Python (remote session)")

        run_cell(page, 'print("hello from", "the remote session", 6 * 7)')
        outputs = page.locator(".jp-OutputArea-output")
        expect(outputs.filter(has_text="hello from the remote session 42")).to_have_count(1)

        run_cell(
            page,
            "import matplotlib.pyplot as plt; "
            "plt.plot([1, 4, 9, 16], marker='o'); plt.title('drawn remotely'); plt.show()",
        )
        image = page.locator(".jp-OutputArea-output img")
        expect(image).to_have_count(1)
        expect(image).to_have_attribute("src", _starts_with_png())
        width = image.evaluate("img => img.naturalWidth")
        assert width > 200

        expect_execution_counts(page, 2)
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # The cells went through the pool: the kernel opened a session of its own there.
    assert len(session_ids(local_pool) - sessions_before) == 1


def _starts_with_png() -> Any:
    return re.compile(r"^data:image/png;base64,")


@pytest.mark.timeout(180, func_only=True)
def test_jupyterlab_runs_a_javascript_cell_on_the_remote_javascript_kernel(
    chromium: Path, javascript_lab: LabServer
) -> None:
    """Pick "JavaScript (remote session)" in the launcher, run a cell, see its output."""
    from playwright.sync_api import expect

    shot = ARTIFACTS / "jupyterlab-remote-javascript.png"
    with lab_page(chromium, javascript_lab, "jupyterlab-javascript-failure.png") as page:
        open_notebook(page, "JavaScript (remote session)")
        run_cell(page, 'const who = "the remote session"; console.log("hello from", who)')
        outputs = page.locator(".jp-OutputArea-output")
        expect(outputs.filter(has_text="hello from the remote session")).to_have_count(1)
        run_cell(page, "[1, 2, 3].map((n) => n * 14).at(-1)")
        expect(outputs.filter(has_text="42")).to_have_count(1)
        expect_execution_counts(page, 2)
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.mark.timeout(180, func_only=True)
def test_jupyterlab_shows_a_line_while_the_cell_still_runs(
    chromium: Path, lab: LabServer, tmp_path: Path
) -> None:
    """Live output, by handshake rather than timing: the cell prints ``line 1`` and then
    waits for a marker file that this test writes only once the page shows that line.
    Were output delivered at the end of the cell, the page would show ``not live``."""
    from playwright.sync_api import expect

    marker = tmp_path / "seen-in-the-page"
    cell = (
        "import os, time\n"
        "print('line 1', flush=True)\n"
        "deadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        f"print('live' if os.path.exists({str(marker)!r}) else 'not live')"
    )
    with lab_page(chromium, lab, "jupyterlab-live-failure.png") as page:
        open_notebook(page, "Python (remote session)")
        editor = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content")
        editor.click()
        page.keyboard.insert_text(cell)
        page.keyboard.press("Shift+Enter")
        outputs = page.locator(".jp-OutputArea-output")
        expect(outputs.filter(has_text="line 1")).to_have_count(1)
        # The cell is still running while its first line is on the page.
        assert page.locator(".jp-Cell .jp-InputArea-prompt").first.inner_text() == "[*]:"
        marker.write_text("seen")
        expect(outputs.filter(has_text="live")).to_have_count(1)
        assert outputs.filter(has_text="not live").count() == 0
