"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B §5.1.1.2: a length floor, no composition rules, and a check
against commonly used and context-specific passwords.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 128

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults

# A hash of a random string: verified against when the user does not exist, so unknown users take as long.
_DUMMY_HASH = _hasher.hash("carebridge-timing-equaliser-7f3a9c")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("carebridge.engines").joinpath("knowledge/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, context_words: tuple[str, ...] = ()) -> list[str]:
    """Everything wrong with a proposed password, in words a user can act on (empty: acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"use at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!@#$") in common_passwords():
        problems.append("this password is too common; choose something others would not guess")
    elif len(set(password)) <= 2:
        problems.append("do not repeat the same one or two characters")
    for word in context_words:
        w = word.strip().lower()
        if len(w) >= 4 and w in lowered:
            problems.append("do not include your username, name or email in the password")
            break
    return problems
