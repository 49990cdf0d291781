"""Who is asking: a kiosk's device token, a staff member's user token (admin, coordinator, team lead) or their
console session cookie, or a desk operator; 401 without a usable token, 403 for one that may not do this. The one
place handlers ask.

A request with an Authorization header is judged by it alone. Without one, the `checkin_session` cookie is read
from Postgres on every request (a revoked session or account stops at once), and a request that changes
anything must also carry the session's CSRF token in X-CSRF-Token and, when it names an Origin, come from this
gateway's own: a browser sends the cookie by itself, but only a page of ours can read the token."""

from __future__ import annotations

from aiohttp import web

import checkin.access.operations as ops
from checkin.access.accounts import User, user_for_token
from checkin.access.enrollment import DeviceInfo, device_for_token
from checkin.access.staff_sessions import SESSION_COOKIE, Staff, csrf_matches, staff_for_session
from checkin.gateway.errors import ApiError, postgres_guard
from checkin.gateway.links import base_url
from checkin.gateway.state import state_key
from checkin.keys import EVENT_ID_RE
from checkin.tokens import DeviceToken, bearer, parse_device_token

_TOKENS: dict[str, tuple[DeviceToken, str]] = {}  # Authorization header -> parsed token and its sha256
_TOKENS_MAX = 20_000
_HEADER_MAX = 256  # 'Bearer ' and a token of at most 200 characters
CSRF_COOKIE = "checkin_csrf"  # readable by the page: it sends it back in X-CSRF-Token (a double submit)
CSRF_HEADER = "X-CSRF-Token"
STAFF_KEY = web.RequestKey("staff", Staff)  # the request's session person, once read (the audit middleware reads it)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def device_token(request: web.Request) -> tuple[DeviceToken, str]:
    """The device token and its hash; a kiosk sends the same header on every scan, so both are kept."""
    header = request.headers.get("Authorization")
    known = _TOKENS.get(header) if header else None
    if known is not None:
        return known
    raw = bearer(header)
    if raw is None:
        raise ApiError(401, "missing_token", "send the device token as 'Authorization: Bearer <token>'")
    token = parse_device_token(raw) if raw.isascii() else None
    if token is None:
        raise ApiError(401, "bad_token", "the device token is malformed")
    known = (token, token.hash)
    if len(header) > _HEADER_MAX:  # type: ignore[arg-type]  # header is not None here
        return known  # padded with spaces: parsed, never kept, so memory does not grow with the header
    if len(_TOKENS) >= _TOKENS_MAX:
        _TOKENS.clear()  # bounded; a cleared entry costs one parse and one hash
    _TOKENS[header] = known  # type: ignore[index]
    return known


def device_token_or_none(request: web.Request) -> DeviceToken | None:
    """The device token, when the request carries one (a user token is not); no refusal here."""
    raw = bearer(request.headers.get("Authorization"))
    return parse_device_token(raw) if raw and raw.isascii() else None


async def enrolled_device(request: web.Request, token: DeviceToken | None = None) -> tuple[DeviceToken, DeviceInfo]:
    """A device token the devices table knows and holds active (a Postgres read: not for the scan path, which
    asks Redis in its one script call)."""
    if token is None:
        token, _ = device_token(request)
    async with postgres_guard():
        info = await device_for_token(request.app[state_key].pool, token.event_id, token.device_id, token.text)
    if info is None:
        raise ApiError(401, "bad_token", "this device token was not issued here")
    if info.status != "active":
        raise ApiError(403, "device_revoked", "this device's token was revoked; enroll it again")
    return token, info


def _own_origin(request: web.Request, origin: str) -> bool:
    return origin in (f"{request.scheme}://{request.host}", base_url(request))


async def staff_session(request: web.Request) -> Staff | None:
    """The person behind the request's session cookie (None without a live one); 403 `csrf` for a change that
    lacks the session's CSRF token or comes from another site's page."""
    known: Staff | None = request.get(STAFF_KEY)
    if known is not None:
        return known
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    config = request.app[state_key].config
    async with postgres_guard():
        staff = await staff_for_session(request.app[state_key].pool, session_id, idle_s=config.session_idle_s,
                                        max_s=config.session_max_s)
    if staff is None:
        return None
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("Origin")
        if not csrf_matches(staff, request.headers.get(CSRF_HEADER)) or (origin and not _own_origin(request, origin)):
            raise ApiError(403, "csrf", f"a change made with a session needs its {CSRF_HEADER} header, from this site's pages")
    request[STAFF_KEY] = staff
    return staff


async def _user(request: web.Request) -> User | None:
    header = request.headers.get("Authorization")
    if header is not None:
        return await user_for_token(request.app[state_key].pool, bearer(header))
    staff = await staff_session(request)
    return User(staff.user_id, staff.name, staff.role, staff.event_id) if staff else None


async def caller(request: web.Request) -> User:
    """Any signed-in staff member (token or session); 401 otherwise."""
    async with postgres_guard():
        user = await _user(request)
    if user is None:
        raise ApiError(401, "unauthorized", "sign in, or send a user token as 'Authorization: Bearer <token>'")
    return user


async def require_admin(request: web.Request, event_id: str | None = None) -> User:
    """An admin, by token or session (the console sets events and accounts up); 401 without one, 403 for any
    other role, 400 for a malformed event id."""
    user = await caller(request)
    if user.role != "admin":
        raise ApiError(403, "forbidden", "only an admin may do this")
    if event_id is not None and not EVENT_ID_RE.match(event_id):
        raise ApiError(400, "invalid_field", "event_id is not an event id", "event_id")
    return user


async def require_user(request: web.Request, event_id: str, *, team_lead: bool = False) -> User:
    """The admin or coordinator of the event behind the request's token or session (or, with team_lead, that
    event's team lead, whom the caller must then hold to their own team); 401 without one, 403 for another."""
    async with postgres_guard():
        user = await _user(request)
    if user is None:
        raise ApiError(401, "unauthorized", "send a coordinator or admin token as 'Authorization: Bearer <token>'")
    lead_here = team_lead and user.role == "team_lead" and user.event_id == event_id
    if not EVENT_ID_RE.match(event_id) or not (user.may_watch(event_id) or lead_here):
        raise ApiError(403, "forbidden", "this account may not see that event")
    return user


async def operator(request: web.Request, event_id: str | None, roles: tuple[str, ...]) -> ops.Operator:
    """The person behind a user token or session; a kiosk's device token is never one (it may not browse the roster)."""
    state = request.app[state_key]
    header = request.headers.get("Authorization")
    async with postgres_guard():
        if header is not None:
            who = await ops.operator_for_token(state.pool, bearer(header))
        else:
            staff = await staff_session(request)
            who = ops.Operator(staff.user_id, staff.name, staff.role, staff.event_id, staff.team_id,
                               staff.token_hash) if staff else None
    if who is None:
        raise ApiError(401, "unauthorized", "send a coordinator, team lead or admin token as 'Authorization: Bearer <token>'")
    if who.role not in roles:
        raise ApiError(403, "forbidden", f"this needs one of the roles: {', '.join(roles)}")
    if event_id is not None and (not EVENT_ID_RE.match(event_id) or not who.may_operate(event_id)):
        raise ApiError(403, "forbidden", "this account may not operate that event")
    return who

