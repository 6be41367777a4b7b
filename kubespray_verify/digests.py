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


def normalize_digest(value: str) -> str:
    """`HEX`, `sha256:HEX` or `SHA256:HEX` (64 hex digits, any case) -> `sha256:hex`.

    Raises ValueError naming the value for anything else (another algorithm,
    a short or non-hex digest, an empty string).
    """
    if not isinstance(value, str):
        raise ValueError(f"digest {value!r} is not a string")
    text = value.strip()
    algo, sep, hexpart = text.partition(":")
    if not sep:
        algo, hexpart = "sha256", text
    if algo.lower() != "sha256":
        raise ValueError(f"digest {value!r}: only sha256 digests are supported, not {algo!r}")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", hexpart):
        raise ValueError(f"digest {value!r} is not 64 hexadecimal digits after 'sha256:'")
    return "sha256:" + hexpart.lower()


def optional_digest(value: Any) -> Optional[str]:
    """An image digest as Kubespray vars write it (`default(None)` when unpinned) → `sha256:hex` or None."""
    return None if is_unset(value) else normalize_digest(value)
