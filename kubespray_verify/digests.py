"""Checksum and digest spellings normalised to `algo:hex`, lowercase (pure)."""

from __future__ import annotations

import re
from typing import Any, Optional

_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_BY_LENGTH = {64: "sha256", 128: "sha512"}


def is_unset(value: Any) -> bool:
    """Kubespray writes "no digest" as `default(None)`: None, "", or the string "None"."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "None", "none", "null"))


def normalize_checksum(value: Any, default_algo: Optional[str] = None) -> Optional[str]:
    """`sha256:ABC…`, `ABC…` (bare, algorithm from `default_algo` or its length) → `sha256:abc…`.

    Returns None when unset; raises ValueError naming the value when malformed.
    """
    if is_unset(value):
        return None
    text = str(value).strip()
    if ":" in text:
        algo, _, hexpart = text.partition(":")
        algo = algo.strip().lower()
    else:
        hexpart = text
        algo = default_algo or _BY_LENGTH.get(len(text), "")
    hexpart = hexpart.strip().lower()
    expected_len = _HEX_LENGTHS.get(algo)
    if expected_len is None:
        raise ValueError(f"checksum {text!r}: unknown algorithm {algo or '(none)'}")
    if len(hexpart) != expected_len or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise ValueError(f"checksum {text!r}: not a {algo} digest ({expected_len} hex digits)")
    return f"{algo}:{hexpart}"


def normalize_digest(value: Any) -> Optional[str]:
    """An image digest, bare hex or `sha256:hex` → `sha256:hex` (None when unset)."""
    return normalize_checksum(value, default_algo="sha256")
