"""PanDA's rules for names derived from DNs and FQANs (``CoreUtils``, ``api/v1/common.py``).

The compact user name is what PanDA compares for ownership (task ``userName``, secrets owner,
banned users, permission lists), so the engine and the API layer share these functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_DN_PARTS = re.compile(r"/(DC|O|OU|C|L)=[^/]+")
_NUMERIC_CN = re.compile(r"/CN=[0-9]+")
_SPACE_DIGITS = re.compile(r" [0-9]+")
_UNDERSCORE_DIGITS = re.compile(r"_[0-9]+")
_TWO_CNS = re.compile(r".*/CN=([^/]+)/CN=([^/]+)")
_LIMITED = re.compile(r".*(limited.*proxy).*")
_EMAIL = re.compile(r" [a-z][\w\.-]+@[\w\.-]+(?:\.\w+)+")
_PRODUCTION_PATTERNS = ("/atlas/usatlas/Role=production", "/atlas/Role=production", "^/[^/]+/Role=production")


def clean_user_id(dn: str | None) -> str | None:
    """The compact user name of a DN (``CoreUtils.clean_user_id``), e.g. ``Jane Doe``."""
    if dn is None:
        return None
    try:
        username = _DN_PARTS.sub("", dn)
        username = _NUMERIC_CN.sub("", username)
        username = _SPACE_DIGITS.sub("", username)
        username = _UNDERSCORE_DIGITS.sub("", username)
        username = username.replace("/CN=proxy", "").replace("/CN=limited proxy", "").replace("limited proxy", "")
        username = re.sub("/CN=Robot:[^/]+", "", username)
        username = re.sub("/CN=nickname:[^/]+", "", username)
        match = _TWO_CNS.match(username)
        username = match.group(2) if match else username.replace("/CN=", "")
        if username.lower().find("/email") > 0:
            username = username[: username.lower().find("/email")]
        match = _LIMITED.match(username)
        if match:
            username = match.group(1)
        username = username.replace("(", "").replace(")", "").replace("'", "")
        without_email = _EMAIL.sub("", username).strip()
        if " " in without_email:
            username = without_email
        return username
    except Exception:  # noqa: BLE001 - PanDA returns the input unchanged on any failure
        return dn


def get_bare_dn(dn: str, keep_proxy: bool = False, keep_digits: bool = True) -> str:
    """``CoreUtils.get_bare_dn``: drop ``/CN=limited proxy`` and collapse/drop ``/CN=proxy``."""
    dn = re.sub("/CN=limited proxy", "", dn)
    dn = re.sub("/CN=proxy(/CN=proxy)+", "/CN=proxy", dn) if keep_proxy else re.sub("(/CN=proxy)+", "", dn)
    if not keep_digits:
        dn = re.sub(r"(/CN=\d+)+$", "", dn)
    return dn


def has_production_role(dn: str, fqans: Iterable[str], production_dns: Iterable[str] = ()) -> bool:
    """PanDA's production-role test: a configured DN substring, or a production FQAN."""
    for fragment in production_dns:
        if fragment and fragment in dn:
            return True
    for fqan in fqans:
        for pattern in _PRODUCTION_PATTERNS:
            if fqan.startswith(pattern) or re.search(pattern, fqan):
                return True
    return False


def production_working_groups(fqans: Iterable[str]) -> list[str]:
    """``extract_production_working_groups``: ``<wg>`` and ``gr_<wg>`` per ``/atlas/<wg>/Role=production``."""
    groups: list[str] = []
    for fqan in fqans:
        match = re.search(r"/atlas/([^/]+)/Role=production", fqan)
        if match:
            group = match.group(1)
            if group and group not in ["usatlas"] + groups:
                groups.extend([group, f"gr_{group}"])
    return groups


def primary_production_working_group(fqans: Iterable[str]) -> str | None:
    """``extract_primary_production_working_group``: the last ``/<vo>/<wg>/Role=production``'s group."""
    group = None
    for fqan in fqans:
        match = re.search("/[^/]+/([^/]+)/Role=production", fqan)
        if match and match.group(1) not in ("", "usatlas"):
            group = match.group(1).split("-")[-1].lower()
    return group
