"""``remote-kernel doctor``: is everything in place to run cells remotely?

Five checks, each printed as ✓ or ✗ with a fix for every failure:

1. configuration — which settings are in effect and where each came from
   (``--endpoint``, the installed kernelspec's env, environment variables,
   defaults); the token is only ever reported as set or not;
2. endpoint — the configured pool answers HTTP (or the embedded pool starts);
3. token — a bearer token can be obtained for the auth mode in effect
   (DefaultAzureCredential for ``azure``; the token itself is never shown);
4. execution — ``-7 % 3`` runs in a fresh session: 2 in Python, -1 in JavaScript (so
   a NodeLTS pool is told from a Python one; a Shell pool refuses code and gets a command);
5. kernelspec — the kernelspec is installed and its interpreter exists and
   imports remote_kernel.

The exit code is 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remote_kernel.config import (
    ENDPOINT_HELP,
    KNOWN_API_VERSIONS,
    TOKEN_SCOPE,
    Provenance,
    check_auth,
    is_loopback,
    provenance,
    resolve_auth,
)
from remote_kernel.config import check_endpoint as valid_endpoint


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str = ""


@dataclass
class Effective:
    """The settings the checks use, and where each came from."""

    values: dict[str, str]
    sources: dict[str, str]
    kernelspec_env: dict[str, str]


def register(subparsers: argparse._SubParsersAction) -> None:
    from remote_kernel.kernel.spec import DEFAULT_NAME

    parser = subparsers.add_parser(
        "doctor",
        help="Check configuration, pool, token, a tiny execution and the kernelspec.",
        description="Check that cells can run remotely: settings in effect, endpoint "
        "reachable, token obtainable, code runs (and in which language), kernelspec installed. Prints a fix "
        "for each failure; exits 0 only when every check passed.",
    )
    parser.add_argument(
        "--endpoint",
        default="",
        metavar="URL",
        help="Check this pool endpoint instead of the configured one.",
    )
    parser.add_argument(
        "--kernel",
        default=DEFAULT_NAME,
        metavar="NAME",
        help=f"Kernelspec to check (default {DEFAULT_NAME}).",
    )
    parser.set_defaults(func=run_doctor)


# ------------------------------------------------------------------ configuration


def _kernelspec(name: str) -> tuple[Path | None, dict[str, Any] | None]:
    """The directory and kernel.json of kernelspec ``name`` wherever Jupyter finds it."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs().get(name)
    if not found:
        return None, None
    try:
        spec = json.loads((Path(found) / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Path(found), None
    return Path(found), spec if isinstance(spec, dict) else None


#: Settings keys -> the PoolSettings trait a Jupyter config file sets.
_TRAITS = {
    "endpoint": "pool_endpoint",
    "api_version": "api_version",
    "auth": "auth",
    "token": "token",
    "session_id": "session_id",
}


def kernel_config() -> tuple[dict[str, Provenance], list[str]]:
    """Settings from the config files the kernel reads (``ipython_kernel_config.py`` and
    ``ipython_config.py`` in the IPython profile and the system/environment config dirs):
    trait -> value and source, and the files that could not be read."""
    from IPython.core.application import ENV_CONFIG_DIRS, SYSTEM_CONFIG_DIRS
    from IPython.paths import get_ipython_dir
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    profile = os.path.join(get_ipython_dir(), "profile_default")
    found: dict[str, Provenance] = {}
    broken: list[str] = []
    # Lowest priority first; a later file overrides an earlier one, as in IPython.
    for directory in [*reversed(SYSTEM_CONFIG_DIRS), *reversed(ENV_CONFIG_DIRS), profile]:
        for base in ("ipython_config", "ipython_kernel_config"):
            for ext, loader in ((".py", PyFileConfigLoader), (".json", JSONFileConfigLoader)):
                path = os.path.join(directory, base + ext)
                if not os.path.isfile(path):
                    continue
                try:
                    config = loader(base + ext, path=directory).load_config()
                except Exception as exc:  # noqa: BLE001 - a user's file can raise anything
                    broken.append(f"{path}: {type(exc).__name__}")
                    continue
                for section in ("PoolSettings", "RemoteKernel"):  # the subclass wins
                    if section not in config:
                        continue
                    for trait in _TRAITS.values():
                        if trait in config[section]:
                            value = str(config[section][trait]).strip()
                            found[trait] = Provenance(value, f"c.{section}.{trait} in {path}")
    return found, broken


def effective_settings(
    endpoint_flag: str,
    kernelspec_env: Mapping[str, str],
    config: Mapping[str, Provenance] | None = None,
) -> Effective:
    """What the kernel would use: ``--endpoint``; then a Jupyter config file's
    ``c.RemoteKernel.*`` (traits beat their env fallbacks); then the kernelspec's env
    (jupyter_client puts it over the process env); then the environment; then defaults."""
    flag = {"pool_endpoint": Provenance(endpoint_flag, "--endpoint")} if endpoint_flag else {}
    explicit = [flag, config or {}]
    layers = [("the kernelspec", kernelspec_env), ("the environment", os.environ)]
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, trait in _TRAITS.items():
        found = provenance(trait, explicit, layers)
        values[key], sources[key] = found.value, found.source
    values["endpoint"] = values["endpoint"].rstrip("/")
    return Effective(values, sources, dict(kernelspec_env))


def resolved_auth(values: Mapping[str, str]) -> str:
    """The auth mode in effect for the checked settings (``auto`` resolved)."""
    auth = values["auth"].lower()
    return resolve_auth(auth, token=values["token"], endpoint=values["endpoint"])


def _passes(rule: Any, value: str, problems: list[str], fixes: list[str]) -> bool:
    """Apply one of the settings' own rules; a failure becomes a problem and its fix."""
    from remote_kernel.errors import ConfigurationError

    try:
        rule(value)
    except ConfigurationError as exc:
        problems.append(exc.message)
        fixes.append(exc.fix)
        return False
    return True


def check_configuration(eff: Effective) -> Check:
    from remote_kernel.errors import ConfigurationError
    from remote_kernel.identifiers import validate_identifier

    v, s = eff.values, eff.sources
    problems: list[str] = []
    fixes: list[str] = []
    _passes(valid_endpoint, v["endpoint"], problems, fixes)
    if v["api_version"] not in KNOWN_API_VERSIONS:
        problems.append(f"unknown api-version {v['api_version']!r}")
        fixes.append(f"Set ACA_API_VERSION to one of: {', '.join(sorted(KNOWN_API_VERSIONS))}.")
    auth_ok = _passes(check_auth, v["auth"], problems, fixes)
    if auth_ok and v["auth"].lower() == "token" and not v["token"]:
        problems.append("auth is 'token' but no token is set")
        fixes.append("Set ACA_POOL_TOKEN, or ACA_AUTH=azure to use DefaultAzureCredential.")
    if v["session_id"]:
        try:
            validate_identifier(v["session_id"])
        except ConfigurationError as exc:
            problems.append(exc.message)
            fixes.append(f"Fix ACA_SESSION_ID. {exc.fix}")
    auth = resolved_auth(v) if not problems else v["auth"]
    if not v["endpoint"]:
        auth = "a token generated per start"
    details = [
        f"endpoint: {v['endpoint'] or '(embedded local pool)'}  [{s['endpoint']}]",
        f"api-version: {v['api_version']}  [{s['api_version']}]",
        f"auth: {v['auth']}"
        + (f" -> {resolved_auth(v)}" if v["endpoint"] and resolved_auth(v) != v["auth"] else "")
        + f"  [{s['auth']}]",
        f"token: {'set (hidden)' if v['token'] else 'not set'}  [{s['token']}]",
        f"session: {v['session_id'] or '(a new one per kernel start)'}  [{s['session_id']}]",
    ]
    if problems:
        return Check("configuration", False, "; ".join(problems), details, " ".join(fixes))
    where = v["endpoint"] or "the embedded local pool"
    return Check("configuration", True, f"cells run on {where} (auth: {auth})", details)


# ----------------------------------------------------------------------- endpoint


@dataclass
class Target:
    """Where the execution check goes, once the endpoint check passed."""

    endpoint: str
    auth: str
    token: str
    pool: Any = None  # the embedded pool this command started
    credential: Any = None


def _connection_fix(exc: Exception, endpoint: str, source: str) -> tuple[str, str]:
    import httpx

    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "timed out", (
            "Check the network path (proxy, firewall, VPN) to the pool. " + ENDPOINT_HELP
        )
    if "certificate" in text or "ssl" in text:
        return "TLS failed", "The pool's certificate was not accepted: check the URL and any proxy."
    if "name or service" in text or "getaddrinfo" in text or "nodename" in text:
        return "the host name does not resolve", ENDPOINT_HELP
    if is_loopback(endpoint):
        return "connection refused", (
            "Nothing listens there: start the local pool (`remote-kernel serve`) with that "
            f"address, or remove the endpoint setting ({source}) to use the embedded local pool."
        )
    return "connection refused", ENDPOINT_HELP


def check_endpoint(eff: Effective, config_ok: bool) -> tuple[Check, Target | None]:
    import httpx

    if not config_ok:
        return Check("endpoint", False, "not tried: fix the configuration first"), None
    endpoint = eff.values["endpoint"]
    if not endpoint:
        return _start_embedded_pool()
    started = time.monotonic()
    try:
        response = httpx.get(endpoint + "/", timeout=httpx.Timeout(10.0, connect=5.0))
    except httpx.HTTPError as exc:
        what, fix = _connection_fix(exc, endpoint, eff.sources["endpoint"])
        return Check("endpoint", False, f"{endpoint} is not reachable: {what}", fix=fix), None
    ms = (time.monotonic() - started) * 1000
    target = Target(endpoint, resolved_auth(eff.values), eff.values["token"])
    return (
        Check("endpoint", True, f"{endpoint} answers (HTTP {response.status_code}, {ms:.0f} ms)"),
        target,
    )


def _start_embedded_pool() -> tuple[Check, Target | None]:
    import secrets

    from remote_kernel.server import start_local_pool

    started = time.monotonic()
    try:
        pool = start_local_pool(token=secrets.token_urlsafe(24))
    except Exception as exc:  # noqa: BLE001 - any failure to start is the finding
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            Check(
                "endpoint",
                False,
                f"the embedded local pool did not start: {reason}",
                fix="Reinstall with `pip install -e '.[sessions]'`, or set ACA_POOL_ENDPOINT "
                "to a pool (`remote-kernel serve` or Azure).",
            ),
            None,
        )
    seconds = time.monotonic() - started
    return (
        Check("endpoint", True, f"the embedded local pool started at {pool.url} ({seconds:.1f}s)"),
        Target(pool.url, "token", pool.token, pool=pool),
    )


# -------------------------------------------------------------------------- token


def check_token(eff: Effective, target: Target | None, config_ok: bool) -> tuple[Check, Any]:
    """Tried even when the endpoint is unreachable, so both problems show at once.
    Returns the check and, for azure auth, the credential that gave the token."""
    if not config_ok:
        return Check("token", False, "not tried: fix the configuration first"), None
    if target is not None and target.pool is not None:
        return Check("token", True, "the embedded pool uses a token generated for this run"), None
    auth = resolved_auth(eff.values)
    if auth == "none":
        return Check(
            "token", True, "none needed (auth none: loopback endpoint, no token set)"
        ), None
    if auth == "token":
        return Check("token", True, f"static token, {eff.sources['token']} (hidden)"), None
    return _azure_token()


def _azure_token() -> tuple[Check, Any]:
    from remote_kernel.errors import redact

    quiet = logging.getLogger("azure.identity")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs the whole chain as a warning; we report it
    try:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        access = credential.get_token(TOKEN_SCOPE)
    except Exception as exc:  # noqa: BLE001 - azure-identity raises many types
        reason = redact(str(exc)).strip().splitlines()
        check = Check(
            "token",
            False,
            "DefaultAzureCredential could not get a token for "
            f"{TOKEN_SCOPE}: {reason[0] if reason else type(exc).__name__}",
            _credential_reasons(reason[1:]),
            fix="Run `az login` (then check `az account show` is the right subscription), or "
            "set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET for a service principal, "
            "or run where a managed identity is assigned; or set ACA_POOL_TOKEN.",
        )
        return check, None
    finally:
        quiet.setLevel(level)
    minutes = (float(access.expires_on) - time.time()) / 60
    check = Check(
        "token",
        True,
        f"DefaultAzureCredential gave a token for {TOKEN_SCOPE} "
        f"(valid {minutes:.0f} more min; not shown)",
    )
    return check, credential


def _credential_reasons(lines: list[str]) -> list[str]:
    """The "Attempted credentials" lines azure-identity lists, one short line each."""
    reasons = []
    for line in lines:
        line = line.strip()
        name, sep, why = line.partition(": ")
        if sep and name.endswith("Credential") and " " not in name:
            why = why.split(". ")[0].rstrip(".")
            reasons.append(f"{name}: {why[:120]}")
    return reasons


# ---------------------------------------------------------------------- execution


def check_execution(target: Target | None, token_ok: bool, api_version: str) -> Check:
    from remote_kernel.errors import RemoteKernelError
    from remote_kernel.identifiers import new_identifier

    if target is None or not token_ok:
        return Check("execution", False, "not tried: the checks above must pass first")
    session = new_identifier("doctor")
    kwargs: dict[str, Any] = {"api_version": api_version, "timeout": 60.0, "connect_timeout": 5.0}
    if target.credential is not None:
        kwargs.update(auth="azure", credential=target.credential)
    else:
        kwargs.update(auth=target.auth, token=target.token or None)
    try:
        result, ms = _probe(target, kwargs, session, code=LANGUAGE_PROBE)
    except RemoteKernelError as exc:
        if getattr(exc, "code", None) == "CodeNotSupported":
            return _check_shell_pool(target, kwargs, session)
        return Check(
            "execution",
            False,
            f"`{LANGUAGE_PROBE}` failed: {exc.message}",
            fix=exc.fix or "See the README's troubleshooting section.",
        )
    language = _language_of(result)
    where = f"in session {session} ({ms:.0f} ms)"
    if language == "python":
        return Check("execution", True, f"`{LANGUAGE_PROBE}` returned 2, as Python does, {where}")
    if language == "javascript":
        return Check(
            "execution",
            True,
            f"this is a JavaScript (NodeLTS) pool: `{LANGUAGE_PROBE}` returned -1, as "
            f"JavaScript does (Python gives 2), {where}; its kernel is remote-javascript "
            "(remote-kernel install --language javascript), its pool_type javascript",
        )
    error = result.error
    why = f"{error.ename}: {error.evalue}" if error else f"status {result.status.value}"
    return Check(
        "execution",
        False,
        f"`{LANGUAGE_PROBE}` returned neither 2 (Python) nor -1 (JavaScript) ({why})",
        fix="The pool runs code but not as expected: check it is a Python or Node.js "
        "code-interpreter (or compatible custom-container) pool.",
    )


def _probe(
    target: Target, kwargs: dict[str, Any], session: str, *, code: str = "", command: str = ""
) -> tuple[Any, float]:
    """Runs ``code`` (or a shell ``command``) on a fresh client, timed in ms; its session
    is deleted after, whatever the probe (the doctor leaves nothing behind)."""
    from remote_kernel.client import SessionPoolClient

    started = time.monotonic()
    with SessionPoolClient(target.endpoint, **kwargs) as client:
        if command:
            result = client.execute_shell(command, session=session, timeout=60)
        else:
            result = client.execute(code, session=session, timeout=60)
        ms = (time.monotonic() - started) * 1000
        _delete_quietly(client, session)
    return result, ms


def _check_shell_pool(target: Target, kwargs: dict[str, Any], session: str) -> Check:
    """The endpoint refused code as a Shell pool does: check it runs a command instead."""
    from remote_kernel.errors import RemoteKernelError

    try:
        result, ms = _probe(target, kwargs, session, command="echo $((1 + 1))")
    except RemoteKernelError as exc:
        return Check("execution", False, f"a shell command failed: {exc.message}", fix=exc.fix)
    if result.exit_code != 0 or result.stdout.strip() != "2":
        return Check("execution", False, f"`echo $((1 + 1))` did not print 2 ({result.stdout!r})")
    return Check(
        "execution",
        True,
        f"this is a Shell pool: `echo $((1 + 1))` printed 2 in session {session} ({ms:.0f} ms); "
        "its kernel is remote-bash (remote-kernel install --language bash), its pool_type shell",
    )


#: 2 in Python (its ``%`` floors), -1 in JavaScript (its ``%`` truncates): one execution
#: says which language the pool runs; both readings are plain arithmetic.
LANGUAGE_PROBE = "-7 % 3"
_LANGUAGE_OF_VALUE = {"2": "python", "-1": "javascript"}


def _language_of(result: Any) -> str | None:
    """ "python" or "javascript" from the probe's value, None if it gave neither."""
    if not result.ok:
        return None
    shown = [result.value] + [
        out.get("data", {}).get("text/plain")
        for out in result.outputs
        if out.get("output_type") == "execute_result"
    ]
    for value in shown:
        language = _LANGUAGE_OF_VALUE.get(str(value).strip())
        if value is not None and language is not None:
            return language
    return None


def _delete_quietly(client: Any, session: str) -> None:
    from remote_kernel.errors import RemoteKernelError

    try:
        client.delete_session(session)
    except RemoteKernelError:
        pass  # a pool without delete (or a cooldown) reclaims it anyway


# ---------------------------------------------------------------------- kernelspec


def check_kernelspec(name: str, spec_dir: Path | None, spec: dict[str, Any] | None) -> Check:
    install = f"Run `remote-kernel install`{'' if name == 'remote-python' else f' --name {name}'}"
    if spec_dir is None:
        return Check(
            "kernelspec",
            False,
            f"no kernelspec named {name!r} is installed",
            fix=f"{install} (or `--sys-prefix` for this environment only); "
            "`remote-kernel run` works without it.",
        )
    argv = (spec or {}).get("argv") or []
    if not argv or "remote_kernel" not in argv:
        return Check(
            "kernelspec",
            False,
            f"{spec_dir} does not launch remote_kernel (argv {argv!r})",
            fix=f"{install} to replace it.",
        )
    python = str(argv[0])
    if not (os.path.isabs(python) and os.path.isfile(python) and os.access(python, os.X_OK)):
        return Check(
            "kernelspec",
            False,
            f"{spec_dir}: its interpreter {python} does not exist",
            fix=f"{install} again from the environment that has remote_kernel "
            "(it records that environment's Python).",
        )
    version = _remote_kernel_version(python)
    if version is None:
        return Check(
            "kernelspec",
            False,
            f"{spec_dir}: {python} cannot import remote_kernel",
            fix=f"Install remote_kernel into that environment, or {install[0].lower()}"
            f"{install[1:]} from one that has it.",
        )
    return Check(
        "kernelspec", True, f"{name!r} at {spec_dir} runs {python} (remote_kernel {version})"
    )


def _remote_kernel_version(python: str) -> str | None:
    try:
        proc = subprocess.run(
            [python, "-c", "import remote_kernel; print(remote_kernel.__version__)"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


# -------------------------------------------------------------------------- report


def _marks() -> tuple[str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "[ok]", "[FAIL]"
    return "✓", "✗"


def print_report(checks: list[Check]) -> None:
    good, bad = _marks()
    for check in checks:
        print(f"{good if check.ok else bad} {check.name}: {check.summary}")
        for line in check.details:
            print(f"    {line}")
        if not check.ok and check.fix:
            print(f"    fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    if failed:
        print(f"{failed} of {len(checks)} checks failed.")
    else:
        print(f"All {len(checks)} checks passed.")


def _mcp_checks() -> list[Check]:
    """A sixth check, only when ACA_MCP_ENDPOINT names an MCP server (see ``doctor_mcp``)."""
    from remote_kernel.cli import doctor_mcp

    return [Check("mcp", *doctor_mcp.check())] if doctor_mcp.configured() else []


def run_doctor(args: argparse.Namespace) -> int:
    spec_dir, spec = _kernelspec(args.kernel)
    config, broken = kernel_config()
    eff = effective_settings(args.endpoint, (spec or {}).get("env") or {}, config)
    checks = [check_configuration(eff)]
    checks[0].details += [f"could not read {b} (the kernel ignores it too)" for b in broken]
    endpoint_check, target = check_endpoint(eff, checks[0].ok)
    checks.append(endpoint_check)
    try:
        token_check, credential = check_token(eff, target, checks[0].ok)
        checks.append(token_check)
        if target is not None:
            target.credential = credential
        checks.append(check_execution(target, token_check.ok, eff.values["api_version"]))
    finally:
        if target is not None and target.pool is not None:
            target.pool.stop()
    checks.append(check_kernelspec(args.kernel, spec_dir, spec))
    checks += _mcp_checks()
    print_report(checks)
    return 0 if all(c.ok for c in checks) else 1
