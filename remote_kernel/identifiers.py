"""Session identifiers: Azure's rules, in one place for client and server.

Two rules exist. The documentation's prose (4-128 letters, digits and
``| - & ^ % $ # ( ) { } [ ] ; < >``) holds on every api-version and is what
a client checks when it does not know the version. The 2025-10-02-preview
specification (``SessionIdentifier`` in its ``DynamicSessions.json``) widens
it to ``_ | } { [ ] : " ; ' < > ? / . , @ # $ % ^ & * ( ) - + = ! ~`` and
backquote, so ``user_1`` and ``a.b.c`` are valid there.
"""

from __future__ import annotations

import re
import secrets

from remote_kernel.errors import InvalidIdentifierError

#: 4-128 characters: letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9|\-&^%$#(){}\[\];<>]{4,128}$")
#: The 2025-10-02-preview specification's pattern, character for character.
IDENTIFIER_RE_2025_10 = re.compile(
    r"""^[a-zA-Z0-9_|}{\[\]\:"";'<>?\/.,@#$%\^&*()_\-+=!~`]{4,128}$"""
)
#: api-versions whose specification gives the wider pattern.
_WIDE_VERSIONS = frozenset({"2025-10-02-preview"})


def identifier_pattern(api_version: str | None = None) -> re.Pattern[str]:
    """The rule ``api_version`` follows (the documented one when unknown or absent)."""
    return IDENTIFIER_RE_2025_10 if api_version in _WIDE_VERSIONS else IDENTIFIER_RE


def is_valid_identifier(identifier: object, api_version: str | None = None) -> bool:
    pattern = identifier_pattern(api_version)
    return isinstance(identifier, str) and pattern.fullmatch(identifier) is not None


def identifier_rule(api_version: str | None = None) -> str:
    """The rule in words, for error messages."""
    if api_version in _WIDE_VERSIONS:
        return (
            f"On api-version {api_version} identifiers are 4-128 characters: letters, digits "
            "and _ | } { [ ] : \" ; ' < > ? / . , @ # $ % ^ & * ( ) - + = ! ~ ` (no spaces)."
        )
    return InvalidIdentifierError.fix


def validate_identifier(identifier: object, api_version: str | None = None) -> str:
    """Return ``identifier`` or raise :class:`InvalidIdentifierError` naming the rule."""
    if not is_valid_identifier(identifier, api_version):
        raise InvalidIdentifierError(f"Invalid session identifier {identifier!r}.")
    return identifier  # type: ignore[return-value]


def new_identifier(prefix: str = "rk") -> str:
    """A fresh identifier that always satisfies the rules (prefix is sanitised)."""
    clean = re.sub(r"[^A-Za-z0-9-]", "-", prefix)[:40] or "rk"
    return f"{clean}-{secrets.token_hex(12)}"
