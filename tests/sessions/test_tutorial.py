"""Azure's custom-container tutorial runs verbatim against the local pool (examples/tutorial).

The script's ``curl`` commands are checked to be the tutorial's own; then it
runs with real curl against the shared pool, and once more starting its own
``remote-kernel serve``; the cropped image must be the crop of the uploaded one.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image, ImageChops, ImageStat
from pool_api import Api as Pool

from remote_kernel.server import LocalPool

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "examples" / "tutorial"
SCRIPT = TUTORIAL / "tutorial.sh"
#: The seed the project was given, beside the repository in the development workspace.
SEED = (
    REPO.parent / "shared" / "reference" / "seeds" / "custom-container-code-interpreter-tutorial.md"
)
IDENTIFIERS = ("test", "session-test")


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, re.S)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_the_scripts_curl_commands_are_the_tutorials_own() -> None:
    vendored = (TUTORIAL / "TUTORIAL.md").read_text(encoding="utf-8")
    if SEED.exists():  # the vendored copy is the seed, below its provenance comment
        assert vendored.split("-->\n", 1)[1] == SEED.read_text(encoding="utf-8")
    curls = [b for b in _bash_blocks(vendored) if b.startswith("curl")]
    assert len(curls) == 6
    script = "\n".join(_lines(SCRIPT.read_text(encoding="utf-8")))
    for block in curls:
        text = "\n".join(_lines(block))
        if "upload.wikimedia.org" in block:
            assert text not in script  # replaced by a local drawing: no network
        else:
            assert text in script, f"not verbatim in tutorial.sh:\n{text}"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESSION_POOL", "JWT_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return {**env, "PYTHON": sys.executable, **extra}


def _check_run(done: subprocess.CompletedProcess[str], workdir: Path) -> None:
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"status":"Succeeded"' in out and '"stdout":"hello world\\n"' in out
    assert '"name":"sample.jpg"' in out and '"contentType":"image/jpeg","type":"File"' in out
    assert out.count('"status":"Succeeded"') == 2  # hello world, then the crop
    assert '{"name":"cropped_sample.jpg"' in out
    with (
        Image.open(workdir / "sample.jpg") as sample,
        Image.open(workdir / "cropped_sample.jpg") as got,
    ):
        assert got.format == "JPEG" and got.size == (300, 300)
        expected = sample.convert("RGB").crop((100, 100, 400, 400))
        difference = ImageStat.Stat(ImageChops.difference(expected, got.convert("RGB"))).mean
    assert max(difference) < 6, difference  # the same picture, up to JPEG re-encoding


@pytest.fixture
def cleanup(pool_api: Pool) -> Iterator[None]:
    yield
    for identifier in IDENTIFIERS:
        pool_api.delete(identifier)


def test_tutorial_against_a_running_pool(
    local_pool: LocalPool, tmp_path: Path, cleanup: None
) -> None:
    env = _environment(
        SESSION_POOL_MANAGEMENT_ENDPOINT=local_pool.url, JWT_ACCESS_TOKEN=local_pool.token or ""
    )
    done = subprocess.run(
        ["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    _check_run(done, tmp_path)


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (the pool and its kernels inherit it)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("RK_TUTORIAL_RUN") == marker:
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


def test_tutorial_starts_and_stops_its_own_pool(tmp_path: Path) -> None:
    marker = secrets.token_hex(8)
    process = subprocess.Popen(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env=_environment(RK_TUTORIAL_RUN=marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    _check_run(subprocess.CompletedProcess(process.args, process.returncode, out, err), tmp_path)
    assert "Pool endpoint" not in out  # the pool's own lines stayed in its log
    assert not _marked(marker), "the pool or a kernel outlived the script"
