"""Unique, valid names for per-test resources (databases, buckets, namespaces)."""

from __future__ import annotations

import re
import uuid

#: a Kubernetes name of one label (RFC 1123: Services, namespaces, kind clusters)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def is_dns_label(value: str) -> bool:
    """True for a name Kubernetes takes as a DNS-1123 label: at most 63 characters of
    lowercase a-z, 0-9 and '-', starting and ending with a letter or digit."""
    return _DNS_LABEL.fullmatch(value) is not None


def short_uid() -> str:
    """Eight hex characters: unique enough per run, short enough for 63-character limits."""
    return uuid.uuid4().hex[:8]


def unique_name(prefix: str, *, sep: str = "_", max_len: int = 63) -> str:
    """``{prefix}{sep}{uid}``, lower-cased, with characters other than ``[a-z0-9]`` and ``sep``
    replaced, the prefix shortened so the whole fits ``max_len``."""
    cleaned = re.sub(rf"[^a-z0-9{re.escape(sep)}]+", sep, prefix.lower()).strip(sep) or "test"
    uid = short_uid()
    room = max_len - len(uid) - len(sep)
    return f"{cleaned[:room].rstrip(sep)}{sep}{uid}"


def unique_bucket_name(prefix: str = "test") -> str:
    """An S3 bucket name: 3-63 chars, lowercase letters, digits and '-'."""
    return unique_name(prefix, sep="-", max_len=63)


def unique_k8s_name(prefix: str = "test") -> str:
    """A DNS-1123 label usable as a Kubernetes namespace (no '_', unlike the data model's)."""
    name = unique_name(prefix, sep="-", max_len=63)
    return name if name[0].isalnum() else f"t{name}"[:63]
