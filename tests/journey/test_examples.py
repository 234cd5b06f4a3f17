"""Every notebook in examples/ runs on the local pool and shows what it promises.

quickstart runs on the remote kernel through ``remote-kernel run`` (the README's
first command); files and agents run on a local python3 kernel with nbclient, as a
user opening them in Jupyter would. Checks look at the outputs themselves: values,
images, files, the timeout's duration.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from PIL import Image, ImageChops, ImageStat

from remote_kernel.session import LOCAL_POOL_NOTICE

from .conftest import (
    EXAMPLES,
    REPO,
    cell_starting,
    clean_env,
    jupyter_dirs,
    mime_outputs,
    outputs_text,
    run_cli,
    session_ids,
)

#: Examples this module checks; a new notebook in examples/ must be added here or below.
CHECKED = {"quickstart.ipynb", "files.ipynb", "agents.ipynb"}
#: Examples whose outputs another suite checks (the owner of the feature they show).
CHECKED_ELSEWHERE = {
    "magics.ipynb": REPO / "tests" / "magics" / "test_notebooks.py",
    "bash.ipynb": REPO / "tests" / "journey" / "test_language_examples.py",
    "javascript.ipynb": REPO / "tests" / "journey" / "test_language_examples.py",
}


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / "examples" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / name, target)
    return target


def run_local_kernel(path: Path, env: dict[str, str]) -> Any:
    """Execute with nbclient on the python3 kernel, in the notebook's directory."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute(env=env)
    return nb


def no_errors(nb: Any) -> None:
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in errors if o.output_type == "error"]
    assert errors == [], errors


def readme_first_command() -> list[str]:
    """The arguments of ``remote-kernel`` in the README's first command."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)\n```", text, re.S)
    assert block, "the README has no bash block"
    command = block.group(1).strip()
    assert command.startswith("python3 -m venv .venv && .venv/bin/pip install")
    last = command.split("&&")[-1].split()
    assert last[0] == ".venv/bin/remote-kernel", last
    return last[1:]


def test_examples_are_committed_clean_and_all_checked() -> None:
    names = {p.name for p in EXAMPLES.glob("*.ipynb")}
    assert CHECKED | {"magics.ipynb"} <= names
    unchecked = names - CHECKED - set(CHECKED_ELSEWHERE)
    assert not unchecked, f"examples no test runs: {unchecked}"
    for name, test_file in CHECKED_ELSEWHERE.items():
        assert f'"examples" / "{name}"' in test_file.read_text(encoding="utf-8"), test_file
    for name in names:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


def check_quickstart(nb: Any) -> None:
    no_errors(nb)
    first = cell_starting(nb, "import os")
    assert "Hello from the session: Python 3." in outputs_text(first)
    assert mime_outputs(cell_starting(nb, "squares = "), "text/plain") == ["285"]
    state = outputs_text(cell_starting(nb, "def describe"))
    assert "total from the previous cell: 285" in state
    assert "10 values, largest 81" in state
    (png,) = mime_outputs(cell_starting(nb, "import matplotlib"), "image/png")
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    assert image.format == "PNG" and image.width > 200 and image.height > 100
    # A real plot, not a blank canvas: several distinct colours.
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 10
    handled = cell_starting(nb, "try:")
    assert "handled in the session: ZeroDivisionError('division by zero')" in outputs_text(handled)
    assert mime_outputs(handled, "text/plain") == ["True"]
    assert "the session still has 10 squares" in outputs_text(cell_starting(nb, 'print("done'))


def test_quickstart_with_remote_kernel_run(local_pool: Any, tmp_path: Path) -> None:
    notebook = copy_example("quickstart.ipynb", tmp_path)
    out = tmp_path / "out.ipynb"
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter"))
    before = session_ids(local_pool)
    proc = run_cli(["run", str(notebook), "-o", str(out)], env)
    assert proc.returncode == 0, proc.stderr
    assert session_ids(local_pool) <= before  # the kernel deleted its session
    assert re.findall(r"^\[(\d)/6\] ok \d+\.\ds$", proc.stderr, re.M) == list("123456")
    assert local_pool.url in proc.stderr  # says where cells ran
    nb = nbformat.read(out, as_version=4)
    check_quickstart(nb)
    assert LOCAL_POOL_NOTICE not in outputs_text(nb.cells[1], "stderr")


def test_readme_first_command_runs_on_the_embedded_pool(tmp_path: Path) -> None:
    """No endpoint, no installed kernelspec: what a fresh clone gets."""
    args = readme_first_command()
    assert args == ["run", "examples/quickstart.ipynb", "-o", "quickstart-out.ipynb"]
    copy_example("quickstart.ipynb", tmp_path)
    env = clean_env(**jupyter_dirs(tmp_path / "jupyter"))
    proc = run_cli(args, env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the embedded local pool" in proc.stderr
    nb = nbformat.read(tmp_path / "quickstart-out.ipynb", as_version=4)
    check_quickstart(nb)
    assert outputs_text(cell_starting(nb, "import os"), "stderr").startswith("Note: no pool")


def test_files_example_uploads_transforms_and_downloads(local_pool: Any, tmp_path: Path) -> None:
    notebook = copy_example("files.ipynb", tmp_path)
    nb = run_local_kernel(notebook, clean_env(local_pool))
    no_errors(nb)
    assert "Uploaded sample.jpg -> /mnt/data/sample.jpg" in outputs_text(
        cell_starting(nb, "%aca_upload")
    )
    (listing,) = mime_outputs(cell_starting(nb, "%aca_files"), "text/plain")
    assert "sample.jpg" in listing
    transform = outputs_text(cell_starting(nb, "%%aca"))
    assert "cropped in the session: (640, 480) -> (300, 300)" in transform
    assert "Downloaded /mnt/data/cropped_sample.jpg" in outputs_text(
        cell_starting(nb, "%aca_download")
    )
    shown = cell_starting(nb, "from IPython.display import Image")
    assert "downloaded: (300, 300) JPEG" in outputs_text(shown)
    (jpeg,) = mime_outputs(shown, "image/jpeg")
    # The downloaded file is the crop of the uploaded one (JPEG re-encoding aside).
    result = Image.open(io.BytesIO(base64.b64decode(jpeg))).convert("RGB")
    local = Image.open(notebook.parent / "sample.jpg").convert("RGB").crop((100, 100, 400, 400))
    assert result.size == local.size == (300, 300)
    difference = ImageStat.Stat(ImageChops.difference(result, local)).mean
    assert max(difference) < 4, difference
    assert (notebook.parent / "cropped_sample.jpg").stat().st_size > 1000


def test_agents_example_good_crash_and_endless_loop(local_pool: Any, tmp_path: Path) -> None:
    notebook = copy_example("agents.ipynb", tmp_path)
    started = time.monotonic()
    nb = run_local_kernel(notebook, clean_env(local_pool))
    assert time.monotonic() - started < 60
    no_errors(nb)
    assert f"pool: {local_pool.url}" in outputs_text(nb.cells[1])
    good, crash, endless = (c for c in nb.cells if c.source.startswith(("llm_code", "import time")))
    assert outputs_text(good).startswith("ok\nmean 3.875 median 3.5")
    assert outputs_text(crash).startswith("failed: KeyError: 'pear'")
    loop = outputs_text(endless)
    assert loop.startswith("failed: TimeoutError:")
    seconds = float(re.search(r"stopped after ([\d.]+) s", loop).group(1))
    assert 2.9 <= seconds < 15, loop
    after = outputs_text(cell_starting(nb, "print(run_untrusted(\"print('rolls"))
    assert "rolls still defined: [3, 1, 4, 1, 5, 9, 2, 6]" in after
