"""Staff sign-in, the one-time password link and the People routes (gateway/staff.py, gateway/people.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Text100 = Annotated[str, Meta(max_length=100)]


class SigninBody(msgspec.Struct):
    login: Text100  # the sign-in name (any case) or the user id
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class PasswordBody(msgspec.Struct):
    code: Text100  # the one-time link's code
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class PersonBody(msgspec.Struct):
    role: Literal["admin", "coordinator", "team_lead"]
    name: Text100
    login: Text100
    event_id: Annotated[str, Meta(max_length=64)] | None = None  # every role but admin
    team_id: Annotated[str, Meta(max_length=64)] | None = None  # a team lead's team


class PeopleQuery(msgspec.Struct):
    event: Annotated[str, Meta(max_length=64)] | None = None
    role: Literal["admin", "coordinator", "team_lead"] | None = None


class Person(msgspec.Struct):
    user_id: str
    name: str | None = None
    login: str | None = None
    role: str | None = None
    event_id: str | None = None
    team_id: str | None = None
    csrf_token: str | None = None
