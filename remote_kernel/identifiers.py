"""Session identifiers: Azure's rules, in one place for client and server."""

from __future__ import annotations

import re
import secrets

from remote_kernel.errors import InvalidIdentifierError

#: 4-128 characters: letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9|\-&^%$#(){}\[\];<>]{4,128}$")


def is_valid_identifier(identifier: object) -> bool:
    return isinstance(identifier, str) and IDENTIFIER_RE.fullmatch(identifier) is not None


def validate_identifier(identifier: object) -> str:
    """Return ``identifier`` or raise :class:`InvalidIdentifierError` naming the rule."""
    if not is_valid_identifier(identifier):
        raise InvalidIdentifierError(f"Invalid session identifier {identifier!r}.")
    return identifier  # type: ignore[return-value]


def new_identifier(prefix: str = "rk") -> str:
    """A fresh identifier that always satisfies the rules (prefix is sanitised)."""
    clean = re.sub(r"[^A-Za-z0-9-]", "-", prefix)[:40] or "rk"
    return f"{clean}-{secrets.token_hex(12)}"
