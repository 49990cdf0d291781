"""Staff sign-in for the console and the staff pages: sign in with a name and password, who am I, sign out, and
choosing a password through a one-time link (which signs the person in). Sessions and their rules are in
checkin/access/staff_sessions.py; the cookie is read by gateway/auth.py."""

from __future__ import annotations

import math

from aiohttp import web

import checkin.access.staff_sessions as sessions
from checkin.access.staff_sessions import SESSION_COOKIE
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import CSRF_COOKIE, caller, staff_session
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.models.staff import PasswordBody, Person, SigninBody
from checkin.gateway.requests import clean_text, read_model
from checkin.gateway.state import state_key


async def _person(request: web.Request, user_id: str) -> dict[str, object]:
    async with postgres_guard():
        row = await request.app[state_key].pool.fetchrow(
            "SELECT user_id, name, login, role, event_id, team_id FROM users WHERE user_id = $1", user_id)
    return dict(row) if row else {"user_id": user_id}


async def _signed_in(request: web.Request, opened: sessions.Opened) -> web.Response:
    """The answer that starts a session: the cookie (HttpOnly: no script reads it) and the CSRF token twice, in the
    body and in a cookie the page may read back after a reload."""
    response = json_response({**await _person(request, opened.user_id), "csrf_token": opened.csrf_token})
    # Behind a proxy that ends TLS the request arrives as plain HTTP: an https public URL says how people reach us.
    secure = request.secure or (request.app[state_key].config.public_url or "").startswith("https://")
    response.set_cookie(SESSION_COOKIE, opened.session_id, path="/", httponly=True, samesite="Strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, opened.csrf_token, path="/", samesite="Strict", secure=secure)
    return response


async def post_signin(request: web.Request) -> web.Response:
    body = await read_model(request, SigninBody)
    login = clean_text(body.login, "login", required=True, most=100) or ""
    password = body.password
    config = request.app[state_key].config
    async with postgres_guard():
        outcome = await sessions.sign_in(request.app[state_key].pool, login, password,
                                         backoff_ms=config.signin_backoff_ms, backoff_max_ms=config.signin_backoff_max_ms)
    if isinstance(outcome, sessions.Refused):
        if outcome.locked:
            raise ApiError(403, "account_locked", "too many wrong passwords: this sign-in is locked until an admin resets it")
        if outcome.wait_ms:
            raise ApiError(429, "signin_wait", "too many wrong passwords: wait before trying again",
                           headers={"Retry-After": str(max(1, math.ceil(outcome.wait_ms / 1000)))})
        raise ApiError(401, "bad_credentials", "that name and password do not match an account")
    async with postgres_guard():
        await request.app[state_key].pool.execute(
            "INSERT INTO audit_log (actor, action, subject) VALUES ($1, 'signin', $1)", outcome.user_id)
    return await _signed_in(request, outcome)


async def get_session(request: web.Request) -> web.Response:
    """Who is signed in (a session, or a user token), and the session's CSRF token for the page."""
    user = await caller(request)
    staff = await staff_session(request) if "Authorization" not in request.headers else None
    return json_response({**await _person(request, user.user_id), "csrf_token": staff.csrf_token if staff else None})


async def post_signout(request: web.Request) -> web.Response:
    """Ends the request's session (a bearer token has none to end: revoke a token with `checkin user revoke`)."""
    user = await caller(request)
    staff = await staff_session(request) if "Authorization" not in request.headers else None
    if staff is not None:
        async with postgres_guard():
            await sessions.end_session(request.app[state_key].pool, staff.session_hash)
    response = json_response({"user_id": user.user_id, "signed_out": staff is not None})
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def post_password(request: web.Request) -> web.Response:
    body = await read_model(request, PasswordBody)
    code = clean_text(body.code, "code", required=True, most=100) or ""
    password = body.password
    async with postgres_guard():
        opened = await sessions.set_password(request.app[state_key].pool, code, password)
    return await _signed_in(request, opened)


def setup(app: web.Application) -> None:
    route(app, "POST", "/api/v1/signin", post_signin,
          Doc("Sign in with a name and password: the session cookie and the CSRF token", answer=Person,
              body=SigninBody, errors=("bad_credentials", "account_locked", "signin_wait")))
    route(app, "GET", "/api/v1/session", get_session,
          Doc("Who is signed in (session or user token) and the session's CSRF token", answer=Person,
              auth="user"))
    route(app, "POST", "/api/v1/signout", post_signout,
          Doc("End the request's session and clear its cookies", auth="user", errors=("csrf",)))
    route(app, "POST", "/api/v1/password", post_password,
          Doc("Choose a password through a one-time link; signs the person in", answer=Person, body=PasswordBody,
              errors=("password_too_short", "password_too_common", "link_unknown", "link_used", "link_expired")))
