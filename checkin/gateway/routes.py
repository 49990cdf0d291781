"""URL map of the gateway."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from checkin.gateway import (
    card_link,
    certificates,
    console,
    console_cards,
    console_devices,
    console_roster,
    coordinator,
    enroll,
    gate_copy,
    health,
    notes,
    office,
    openapi,
    operations,
    pages,
    people,
    refused,
    scans,
    staff,
    team,
)

# Route groups added by their own modules: each has setup(app: web.Application) -> None, which adds each
# route with its description through api_doc.route (the API document is generated from those).
ROUTE_MODULES = [health, scans, console, coordinator, enroll, gate_copy, openapi, office, operations, card_link,
                 certificates, staff, people, console_roster, console_cards, console_devices,
                 notes, refused, team]


def setup_routes(app: web.Application, kiosk: Path) -> None:
    for module in ROUTE_MODULES:
        module.setup(app)
    if kiosk.is_dir():
        pages.setup(app, kiosk)
