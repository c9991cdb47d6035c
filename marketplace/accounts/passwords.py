"""Password hashing with argon2id (argon2-cffi's recommended parameters), and the policy a
new password must meet.

The policy: at least ``MIN_LENGTH`` characters; neither the email address nor its local part
inside it; and not guessable, by zxcvbn's estimate (its own lists of common passwords, words
and names, plus the person's email and name; no network call). zxcvbn's score 3 means "safely
unguessable" against an online attack with throttling: about 10^8 guesses or more.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()

#: Verified when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_SCORE = 3
#: zxcvbn's estimate is quadratic in the length; a longer tail adds nothing to the verdict.
_ESTIMATED_LENGTH = 72
#: A local part this short ("ann@...") is too likely to be found in a good password by chance.
_MIN_LOCAL_PART = 4


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def spend_hashing_time() -> None:
    """Hash something and throw it away: a path that stores no password takes as long as one
    that does, so the time of an answer does not tell which path was taken."""
    _hasher.hash("not a real password")


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "", name: str = "") -> list[str]:
    """What is wrong with ``password`` as a new password for this person: an empty list when
    it may be used. Messages are written to be shown next to the password field."""
    password = password or ""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters (at most {MAX_LENGTH})."]
    email = (email or "").strip().lower()
    local = email.partition("@")[0]
    lowered = password.lower()
    if email and (email in lowered or (len(local) >= _MIN_LOCAL_PART and local in lowered)):
        return ["Do not use your email address, or its part before the @, in your password."]
    personal = [email, local, *local.replace(".", " ").split(), *(name or "").lower().split()]
    verdict = zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=[i for i in personal if i])
    if verdict["score"] < MIN_SCORE:
        hint = verdict["feedback"]["warning"] or " ".join(verdict["feedback"]["suggestions"])
        return [
            "This password is too common or too easy to guess. "
            + (hint + " " if hint else "")
            + "Try a few unrelated words."
        ]
    return []
