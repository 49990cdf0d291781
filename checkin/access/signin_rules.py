"""The rules of staff sign-in, pure: which passwords are acceptable, how long a login waits after failures,
when it locks. The I/O around them is in checkin/access/staff_sessions.py."""

from __future__ import annotations

from checkin.errors import Invalid

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # Argon2 takes any length; a bound keeps one request's work bounded
LOCK_AFTER = 20  # wrong passwords in a row that lock a login until an admin resets it
FREE_FAILURES = 5  # failures answered at once before each further attempt must wait

# Passwords of ten or more characters that lists of leaked passwords put near the top. Checked lower-cased.
COMMON = frozenset({
    "1234567890", "0123456789", "12345678910", "123456789a", "a123456789", "1234567890a", "qwertyuiop",
    "1q2w3e4r5t", "1qaz2wsx3edc", "password12", "password123", "password1234", "iloveyou12", "qwerty1234",
    "qwerty12345", "abcdefghij", "abc1234567", "abcd123456", "asdfghjkl1", "zaq12wsxcde", "1111111111",
    "0000000000", "9876543210", "passw0rd123", "welcome123", "admin12345", "administrator", "letmein123",
    "changeme123", "taiwan1234", "taipei1234", "p@ssw0rd123", "football123", "superman123", "sunshine12",
    "princess12", "dragon1234", "monkey1234", "qwertyuiop1", "asdfghjkl;", "zxcvbnm123", "1qazxsw23edc",
})


def check_password(password: str, *, login: str | None, name: str | None) -> None:
    """Refuse a password too short, too long or too easily guessed; the code says which, for the page's words."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters", code="password_too_short",
                      field="password")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"a password may have at most {MAX_PASSWORD} characters", code="invalid_field",
                      field="password")
    lowered = password.lower()
    own = {s.strip().lower() for s in (login, name) if s and s.strip()}
    if lowered in COMMON or len(set(lowered)) <= 2 or lowered in own or any(lowered in (w * 3) for w in own):
        raise Invalid("this password is among the first an attacker tries; choose another",
                      code="password_too_common", field="password")


def wait_after(failures: int, base_ms: int, max_ms: int) -> int:
    """Milliseconds a login waits before its next attempt after `failures` failures in a row: none for the first
    FREE_FAILURES, then doubling from base_ms up to max_ms (base_ms 0: no waiting)."""
    if failures < FREE_FAILURES or base_ms <= 0:
        return 0
    grown: int = base_ms << min(failures - FREE_FAILURES, 30)
    return min(grown, max(max_ms, base_ms))


def locks(failures: int) -> bool:
    return failures >= LOCK_AFTER
