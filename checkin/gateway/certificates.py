"""Certificate endpoints: the office issues, lists, prints and revokes; anyone with a certificate verifies it.

Verification is public on purpose (a school or an employer has no account): the certificate number is
120 random bits, so only who holds the paper can look it up, and the page shows what the paper shows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

import checkin.certificates.store as store
import checkin.reconcile.store as reconcile
from checkin.access.accounts import User
from checkin.certificates.content import VERIFY_PATH, Standing, verify_url
from checkin.certificates.pdf import certificate_pdf
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import require_user
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.links import base_url
from checkin.gateway.models import certificates as models
from checkin.gateway.requests import clean_text, path_id, read_model
from checkin.gateway.state import state_key
from checkin.hours.exports import hours_text

PREFIX = "/api/v1/events/{event_id}"
NO_STORE = {"Cache-Control": "no-store"}


def _cert_json(cert: store.Certificate, base: str) -> dict[str, Any]:
    c = cert.content
    return {"cert_id": cert.cert_id, "event_id": cert.event_id, "volunteer_id": cert.volunteer_id,
            "name": c.name, "hours": c.total_minutes / 60,
            "days": [{"day": d.day, "hours": d.minutes / 60} for d in c.days],
            "code": cert.code, "issued_at": cert.issued_at.isoformat(), "issued_by": cert.issued_by,
            "superseded_by": cert.superseded_by, "revoked_at": _iso(cert.revoked_at),
            "verify_url": verify_url(base, cert.cert_id),
            "pdf_url": f"/api/v1/events/{cert.event_id}/certificates/{cert.cert_id}.pdf"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def post_certificate(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    volunteer_id = path_id(request, "volunteer_id")
    user = await require_user(request, event_id)
    async with request.app[state_key].pool.acquire() as conn:
        try:
            # A reprint (or a double click) gets the certificate that still holds, not a new one that would
            # make the paper already handed out verify as superseded.
            cert, new = await store.current_or_issue(conn, event_id, volunteer_id, user.user_id)
        except reconcile.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except store.NothingToCertify as exc:
            raise ApiError(409, "no_hours", str(exc), "volunteer_id") from None
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc), "volunteer_id" if "volunteer" in str(exc) else "event_id") \
                from None
    return json_response({**_cert_json(cert, base_url(request)), "new": new}, status=201 if new else 200)


async def get_certificates(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await require_user(request, event_id)
    volunteer_id = path_id(request, "volunteer_id") if "volunteer_id" in request.query else None
    async with request.app[state_key].pool.acquire() as conn:
        found = await store.for_event(conn, event_id, volunteer_id)
    base = base_url(request)
    return json_response({"items": [_cert_json(c, base) for c in found]})


async def _event_cert(request: web.Request) -> tuple[store.Certificate, User]:
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id)
    cert = await store.get(request.app[state_key].pool, request.match_info["cert_id"])
    if cert is None or cert.event_id != event_id:
        raise ApiError(404, "not_found", "no such certificate at this event", "cert_id")
    return cert, user


async def get_certificate_pdf(request: web.Request) -> web.Response:
    cert, _ = await _event_cert(request)
    tz = await request.app[state_key].pool.fetchval("SELECT tz FROM events WHERE event_id = $1", cert.event_id)
    url = verify_url(base_url(request), cert.cert_id)
    # About 0.4 s of pure Python (mostly subsetting the CJK font): in a thread, so this process keeps answering
    # (more slowly while it runs: the GIL is shared). Certificates are office work, after the event.
    body = await asyncio.get_running_loop().run_in_executor(
        None, lambda: certificate_pdf(cert, url, issuer=cert.content.unit, timezone=str(tz)))
    return web.Response(body=body, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{cert.cert_id}.pdf"', **NO_STORE})


async def post_revoke(request: web.Request) -> web.Response:
    cert, user = await _event_cert(request)
    reason = clean_text((await read_model(request, models.RevokeBody)).reason, "reason", required=True, most=1000)
    assert reason is not None
    async with request.app[state_key].pool.acquire() as conn:
        try:
            cert = await store.revoke(conn, cert.cert_id, user.user_id, reason)
        except reconcile.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
    return json_response(_cert_json(cert, base_url(request)))


# --- public verification -------------------------------------------------------------------------


async def _verify(request: web.Request) -> tuple[store.Certificate, Standing, str] | None:
    async with request.app[state_key].pool.acquire() as conn:
        found = await store.verify(conn, request.match_info["cert_id"])
        if found is None:
            return None
        tz = await conn.fetchval("SELECT tz FROM events WHERE event_id = $1", found[0].event_id)
    return found[0], found[1], str(tz)


def _public_json(cert: store.Certificate, standing: Standing, tz: str) -> dict[str, Any]:
    c = cert.content
    return {"cert_id": cert.cert_id, "status": standing.status, "reason": standing.reason,
            "valid": standing.status == "valid", "code": cert.code,
            "issued_on": cert.issued_at.astimezone(ZoneInfo(tz)).date().isoformat(),
            "superseded_on": cert.superseded_at.astimezone(ZoneInfo(tz)).date().isoformat()
            if cert.superseded_at else None,
            "revoked_on": cert.revoked_at.astimezone(ZoneInfo(tz)).date().isoformat() if cert.revoked_at else None,
            "certificate": {"name": c.name, "record_book_no": c.record_book_no, "event": c.event_name,
                            "team": c.team, "unit": c.unit, "hours": c.total_minutes / 60,
                            "days": [{"day": d.day, "hours": d.minutes / 60} for d in c.days]}}


async def get_verification(request: web.Request) -> web.Response:
    found = await _verify(request)
    if found is None:
        raise ApiError(404, "not_found", "no certificate with this number was issued here: it is not genuine",
                       "cert_id", headers=NO_STORE)
    return json_response(_public_json(*found), headers=NO_STORE)


_BANNERS = {
    ("valid", None): ("ok", "有效的服務證明", "Valid: this certificate is genuine and its hours are current."),
    ("superseded", "reissued"): ("warn", "已由較新的證明取代",
                                 "Superseded: a newer certificate replaced this one on {superseded_on}."),
    ("superseded", "hours_changed"): ("warn", "時數已更正，本證明已失效",
                                      "Superseded: the hours were corrected after this was issued; "
                                      "ask the volunteer for a new certificate."),
    ("superseded", "details_changed"): ("warn", "資料已更正，本證明已失效",
                                        "Superseded: the volunteer's details were corrected after this was issued."),
    ("revoked", "revoked"): ("bad", "本證明已撤銷", "Revoked on {revoked_on}: this certificate is withdrawn."),
}

_STYLE = """
body{font-family:system-ui,"Noto Sans TC","WenQuanYi Micro Hei",sans-serif;margin:0;background:#f4f4f4;color:#111}
main{max-width:40rem;margin:0 auto;padding:1rem}
.banner{padding:1.2rem;border-radius:.6rem;color:#fff;font-size:1.4rem;font-weight:700}
.banner small{display:block;font-size:1rem;font-weight:400;margin-top:.3rem}
.ok{background:#16703a}.warn{background:#a35a00}.bad{background:#b00020}
section{background:#fff;border-radius:.6rem;padding:1rem;margin-top:1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}
.code{font-family:ui-monospace,monospace;font-size:1.2rem;letter-spacing:.1em}
"""


# The page's only style is inline; its hash allows exactly that, without 'unsafe-inline'.
_PAGE_CSP = {"Content-Security-Policy": (
    "default-src 'none'; style-src 'sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")}


def _page(title: str, inner: str) -> str:
    return (f'<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{inner}</main></body></html>")


def verification_html(data: dict[str, Any] | None) -> str:
    """The page a phone shows after scanning a certificate's QR code; data as _public_json, None if unknown."""
    if data is None:
        return _page("查無此證明", '<div class="banner bad" id="status" data-status="unknown">查無此證明'
                                   "<small>No certificate with this number was issued here: it is not genuine."
                                   "</small></div>")
    kind, zh, en = _BANNERS[(data["status"], data["reason"])]
    c = data["certificate"]
    rows = "".join(f"<tr><td>{escape(d['day'])}</td><td>{hours_text(round(d['hours'] * 60))}</td></tr>"
                   for d in c["days"])
    facts = [("姓名 Name", c["name"]), ("紀錄冊編號 Record book", c["record_book_no"]), ("活動 Event", c["event"]),
             ("隊別 Team", c["team"]), ("運用單位 Unit", c["unit"]), ("發證日期 Issued", data["issued_on"])]
    details = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts if v)
    return _page(f"服務證明 {c['name']}", (
        f'<div class="banner {kind}" id="status" data-status="{escape(data["status"])}">{escape(zh)}'
        f"<small>{escape(en.format(**data))}</small></div>"
        f"<section><table>{details}</table></section>"
        f"<section><table><tr><th>服務日期 Date</th><th>服務時數 Hours</th></tr>{rows}"
        f"<tr><th>合計 Total</th><th>{hours_text(round(c['hours'] * 60))}</th></tr></table></section>"
        f'<section>證明編號 No. {escape(data["cert_id"])}<br>核驗碼 Check code '
        f'<span class="code">{escape(data["code"])}</span>'
        f"<br><small>核驗碼應與紙本相符。The check code must match the one printed on the certificate.</small>"
        f"</section>"))


async def get_verification_page(request: web.Request) -> web.Response:
    found = await _verify(request)
    return web.Response(text=verification_html(_public_json(*found) if found else None),
                        status=200 if found else 404, content_type="text/html", charset="utf-8",
                        headers={**NO_STORE, **_PAGE_CSP})


def setup(app: web.Application) -> None:
    route(app, "POST", PREFIX + "/volunteers/{volunteer_id}/certificates", post_certificate,
          Doc("Issue a service certificate (201), or the one that still holds (200)", answer=models.Certificate,
              status=201, also=(200,), auth="user", errors=("not_found", "no_hours")))
    route(app, "GET", PREFIX + "/certificates", get_certificates,
          Doc("The event's certificates", answer=models.Certificates, query=models.CertificatesQuery, auth="user"))
    route(app, "GET", PREFIX + "/certificates/{cert_id}.pdf", get_certificate_pdf,
          Doc("A certificate as an A4 PDF", media="application/pdf", auth="user", errors=("not_found",)))
    route(app, "POST", PREFIX + "/certificates/{cert_id}/revoke", post_revoke,
          Doc("Revoke a certificate, with a reason (admin)", body=models.RevokeBody, answer=models.Certificate,
              auth="user", errors=("not_found",)))
    route(app, "GET", "/api/v1/certificates/{cert_id}", get_verification,
          Doc("Check a certificate by its number: genuine, and still current?", answer=models.CertificateCheck,
              errors=("not_found",)))
    route(app, "GET", VERIFY_PATH + "{cert_id}", get_verification_page,
          Doc("The page a certificate's QR code opens (404 with a page for an unknown number)",
              media="text/html", also=(404,)))
