"""How the suite obtains Debian's chromium (tests/journey/browser.py), on every kind of
machine, without uninstalling the real one: the browser path and apt-get are a
temporary path and a real script standing in for them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from .browser import BrowserMissing, Host, ensure_chromium, plan, require_chromium

FAKE_APT = """#!/bin/sh
# Stands in for apt-get: logs its arguments; "install" makes the browser appear.
echo "$@" >> "{log}"
case " $* " in
  *" install "*) {install} ;;
esac
"""
MAKE_BROWSER = 'sleep 0.3; printf "#!/bin/sh\\n" > "{browser}"; chmod +x "{browser}"'


def fake_apt(tmp_path: Path, install: str) -> tuple[str, Path]:
    """A real executable playing apt-get; returns its path and the log of its calls."""
    log = tmp_path / "apt.log"
    script = tmp_path / "apt-get"
    script.write_text(FAKE_APT.format(log=log, install=install))
    script.chmod(0o755)
    return str(script), log


def host(tmp_path: Path, *, euid: int = 0, sudo: bool = False, apt: str | None = "/x/apt-get"):
    return Host(tmp_path / "chromium", euid, sudo, apt)


def present(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_present_browser_needs_nothing_whoever_runs(tmp_path: Path) -> None:
    for euid, sudo, apt in [(0, False, "/x/apt-get"), (1000, False, None), (1000, True, "a")]:
        machine = host(tmp_path, euid=euid, sudo=sudo, apt=apt)
        present(machine.chromium)
        decided = plan(machine)
        assert decided.commands == () and decided.refusal is None


def test_root_installs_with_apt_get(tmp_path: Path) -> None:
    decided = plan(host(tmp_path, euid=0))
    assert decided.refusal is None
    update, install = decided.commands
    assert update[:3] == ("env", "DEBIAN_FRONTEND=noninteractive", "/x/apt-get")
    assert update[-1] == "update" and install[-3:] == ("install", "-y", "chromium")
    assert decided.fix == "apt-get install -y chromium"


def test_user_with_passwordless_sudo_installs_through_sudo(tmp_path: Path) -> None:
    decided = plan(host(tmp_path, euid=1000, sudo=True))
    assert decided.refusal is None
    assert [c[:3] for c in decided.commands] == [("sudo", "-n", "env")] * 2
    assert decided.commands[1][-1] == "chromium"


def test_user_without_sudo_gets_the_command_that_fixes_it(tmp_path: Path) -> None:
    machine = host(tmp_path, euid=1000, sudo=False)
    decided = plan(machine)
    assert decided.commands == () and decided.refusal
    with pytest.raises(BrowserMissing) as caught:
        ensure_chromium(machine, lock=tmp_path / "lock")
    message = str(caught.value)
    assert str(machine.chromium) in message
    assert message.endswith("Fix: sudo apt-get install -y chromium")


def test_no_apt_get_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    decided = plan(host(tmp_path, apt=None))
    assert decided.commands == () and "no apt-get" in (decided.refusal or "")


def test_missing_browser_is_installed_once_by_parallel_workers(tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    apt, log = fake_apt(tmp_path, MAKE_BROWSER.format(browser=browser))
    machine = Host(browser, 0, False, apt)
    found: list[Path] = []
    workers = [
        threading.Thread(target=lambda: found.append(ensure_chromium(machine, lock=tmp_path / "l")))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert found == [browser] * 3
    calls = log.read_text().splitlines()
    assert [c.split()[-1] for c in calls] == ["update", "chromium"], calls


def test_failed_install_shows_apt_output_and_the_fix(tmp_path: Path) -> None:
    apt, _ = fake_apt(tmp_path, 'echo "E: Unable to locate package chromium" >&2; exit 100')
    machine = Host(tmp_path / "chromium", 0, False, apt)
    with pytest.raises(BrowserMissing) as caught:
        ensure_chromium(machine, lock=tmp_path / "lock")
    message = str(caught.value)
    assert "exit 100" in message and "Unable to locate package chromium" in message
    assert message.endswith("Fix: apt-get install -y chromium")


def test_install_that_leaves_no_browser_is_an_error(tmp_path: Path) -> None:
    apt, _ = fake_apt(tmp_path, "true")
    with pytest.raises(BrowserMissing, match="still missing"):
        ensure_chromium(Host(tmp_path / "chromium", 0, False, apt), lock=tmp_path / "lock")


def test_refusal_fails_the_test_rather_than_skipping(tmp_path: Path) -> None:
    """What the JupyterLab test's fixture calls: a refusal is a failure naming the fix."""
    with pytest.raises(pytest.fail.Exception) as caught:
        require_chromium(host(tmp_path, euid=1000, sudo=False), lock=tmp_path / "lock")
    assert "Fix: sudo apt-get install -y chromium" in str(caught.value)
