"""Service certificates through the gateway: the office issues and prints one, anyone verifies it by its
QR code, and a correction, a reissue or a revocation shows on the verification page."""

from __future__ import annotations

import argparse
import io
from dataclasses import replace
from pathlib import Path

import asyncpg
import orjson
import pypdf
import pytest
import redis.asyncio as aioredis
import zxingcpp
from aiohttp.test_utils import TestClient
from yarl import URL

import checkin.certificates.store as store
import checkin.cli.certificate as cli
import checkin.reconcile.store as reconcile
from checkin.access.accounts import add_user
from checkin.config import Config
from checkin.keys import Keys
from loadtest.event_factory import Scenario, make_event
from tests.integration.test_office_api import Office, bearer, make_office


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


async def _issue(gateway: TestClient, o: Office, vid: str, headers: dict[str, str] | None = None) -> dict:
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{vid}/certificates",
                              headers=headers or o.coordinator)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _verify(gateway: TestClient, url: str) -> dict:
    """What a phone sees after scanning the code: the public JSON and the page, with no token at all."""
    path = URL(url).path
    page = await gateway.get(path)
    data = await gateway.get("/api/v1/certificates/" + path.rsplit("/", 1)[1])
    body = await data.json()
    assert page.status == data.status
    html = await page.text()
    if data.status == 200:
        assert f'data-status="{body["status"]}"' in html and body["code"] in html
    return {"status_code": data.status, "html": html, **body}


def _pdf_facts(pdf: bytes) -> tuple[str, str]:
    """The PDF's text and what its QR code says, read back from the file itself."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    (image,) = page.images
    (code,) = zxingcpp.read_barcodes(image.image.convert("L"))
    return page.extract_text().replace("\x00", ""), code.text  # pypdf reads its CID text as UTF-16 halves


async def test_a_certificate_verifies_then_shows_a_later_correction(gateway: TestClient, office: Office) -> None:
    o = office
    vid = o.ids[0]  # 09:00-17:00: 8 hours
    cert = await _issue(gateway, o, vid)
    assert cert["hours"] == 8 and cert["days"] == [{"day": "2024-02-24", "hours": 8}]
    assert cert["verify_url"].endswith("/v/" + cert["cert_id"])

    resp = await gateway.get(cert["pdf_url"], headers=o.coordinator)
    assert resp.status == 200 and resp.content_type == "application/pdf"
    text, qr = _pdf_facts(await resp.read())
    assert qr == cert["verify_url"]
    for shown in ("志願服務證明", "志工000號", "2024-02-24", cert["cert_id"], cert["code"]):
        assert shown in text, shown

    found = await _verify(gateway, qr)
    assert (found["status_code"], found["status"], found["valid"]) == (200, "valid", True)
    assert found["certificate"]["name"] == "志工000號" and found["certificate"]["hours"] == 8
    assert found["code"] == cert["code"] and "有效的服務證明" in found["html"]

    change = {"volunteer_id": vid, "action": "change", "session_key": o.keys[vid], "end": "2024-02-24T15:00",
              "reason": "提早離開，補登"}
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/corrections", headers=o.coordinator, json=change)
    assert resp.status == 201, await resp.text()
    found = await _verify(gateway, qr)
    assert (found["status"], found["reason"], found["valid"]) == ("superseded", "hours_changed", False)
    assert found["certificate"]["hours"] == 8  # what the paper said, for the reader to compare
    assert "時數已更正" in found["html"]

    newer = await _issue(gateway, o, vid)
    assert newer["hours"] == 6 and newer["cert_id"] != cert["cert_id"] and newer["new"] is True
    # a reprint (or a double click) while the hours hold gets the same certificate back, not a new one
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{vid}/certificates", headers=o.coordinator)
    assert resp.status == 200 and (await resp.json())["cert_id"] == newer["cert_id"]
    assert (await resp.json())["new"] is False
    assert (await _verify(gateway, newer["verify_url"]))["status"] == "valid"
    old = await _verify(gateway, qr)
    # both dates in the event's zone (Asia/Taipei), whatever the hour in UTC
    assert (old["status"], old["reason"]) == ("superseded", "reissued")
    assert old["superseded_on"] == (await _verify(gateway, newer["verify_url"]))["issued_on"]
    listed = await (await gateway.get(f"/api/v1/events/{o.ev.event_id}/certificates",
                                      params={"volunteer_id": vid}, headers=o.coordinator)).json()
    assert [(c["cert_id"], c["superseded_by"]) for c in listed["items"]] == [
        (cert["cert_id"], newer["cert_id"]), (newer["cert_id"], None)]


async def test_only_an_admin_revokes_and_the_page_says_revoked(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool,
) -> None:
    o = office
    cert = await _issue(gateway, o, o.ids[1])
    assert cert["hours"] == 3.5
    url = f"/api/v1/events/{o.ev.event_id}/certificates/{cert['cert_id']}/revoke"
    resp = await gateway.post(url, headers=o.coordinator, json={"reason": "發錯人"})
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await gateway.post(url, headers=o.admin, json={})
    assert resp.status == 400 and (await resp.json())["field"] == "reason"
    resp = await gateway.post(url, headers=o.admin, json={"reason": "發錯人"})
    assert resp.status == 200 and (await resp.json())["revoked_at"]
    found = await _verify(gateway, cert["verify_url"])
    assert (found["status"], found["valid"]) == ("revoked", False) and "已撤銷" in found["html"]
    audit = await pg_pool.fetch("SELECT action FROM audit_log WHERE event_id = $1 AND action LIKE 'certificate%'"
                                " ORDER BY audit_id", o.ev.event_id)
    assert [r[0] for r in audit] == ["certificate_issue", "certificate_revoke_refused", "certificate_revoke"]
    # the row keeps what it said and what became of it, even against a hand-written UPDATE
    for change, message in (("content = '{}'", "never changed"), ("issued_by = 'someone'", "never changed"),
                            ("revoked_at = NULL", "stays revoked")):
        with pytest.raises(asyncpg.RaiseError, match=message):
            await pg_pool.execute(f"UPDATE certificates SET {change} WHERE cert_id = $1", cert["cert_id"])
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pg_pool.execute("DELETE FROM certificates WHERE cert_id = $1", cert["cert_id"])


async def test_unknown_forged_and_unauthorised_requests_get_clear_answers(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys,
) -> None:
    o = office
    forged = await _verify(gateway, "http://x/v/AAAAAAAAAAAAAAAAAAAA")
    assert (forged["status_code"], forged["error"]) == (404, "not_found") and "查無此證明" in forged["html"]
    assert (await gateway.get("/v/<script>")).status == 404

    issue = f"/api/v1/events/{o.ev.event_id}/volunteers/{o.ids[0]}/certificates"
    assert (await gateway.post(issue)).status == 401
    assert (await gateway.post(issue, headers=o.stranger)).status == 403
    assert (await gateway.post(issue, headers=bearer(o.ev.device_token))).status == 401  # a kiosk cannot
    async with pg_pool.acquire() as conn:
        _, lead = await add_user(conn, "隊長", "team_lead", o.ev.event_id, o.team_id)
    assert (await gateway.post(issue, headers=bearer(lead))).status == 403
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/V-nobody/certificates",
                              headers=o.coordinator)
    assert resp.status == 404 and (await resp.json())["field"] == "volunteer_id"
    async with pg_pool.acquire() as conn:
        elsewhere = (await make_event(conn, redis_client, keys, volunteers=1)).cards[0][0]
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{elsewhere}/certificates",
                              headers=o.coordinator)  # exists, but not at this event: told nothing more
    assert resp.status == 404 and (await resp.json())["field"] == "volunteer_id"
    for bad in ("V%00x", "x" * 201):
        resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{bad}/certificates",
                                  headers=o.coordinator)
        assert resp.status == 400 and (await resp.json())["field"] == "volunteer_id", bad
        resp = await gateway.get(f"/api/v1/events/{o.ev.event_id}/volunteers/{bad}/timeline", headers=o.coordinator)
        assert resp.status == 400, bad
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/acceptances", headers=o.admin,
                              json={"volunteer_id": o.ids[0], "day": "2024-02-24", "reason": "a\x00b"})
    assert resp.status == 400 and (await resp.json())["field"] == "reason"
    no_hours = o.ev.cards[5][0]  # on the roster, never scanned
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{no_hours}/certificates",
                              headers=o.coordinator)
    assert resp.status == 409 and (await resp.json())["error"] == "no_hours"

    cert = await _issue(gateway, o, o.ids[0])
    other_event_pdf = cert["pdf_url"].replace(o.ev.event_id, "ev-other")
    assert (await gateway.get(other_event_pdf, headers=o.admin)).status == 404
    assert (await gateway.get(cert["pdf_url"], headers=o.stranger)).status == 403


async def test_cli_issues_everyone_once_and_reissues_only_what_changed(
    office: Office, pg_pool: asyncpg.Pool, test_config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    o = office
    cfg = replace(test_config, public_url="https://checkin.example.org")
    out = tmp_path / "all.pdf"
    args = argparse.Namespace(event=o.ev.event_id, volunteer=None, all=True, actor=o.coordinator_id, out=str(out),
                              base_url=None, quiet=True)
    async with pg_pool.acquire() as conn:
        assert await cli.cmd_issue(cfg, args, conn, None, None) == 0  # type: ignore[arg-type]
        assert "3 certificate(s) issued, 0 unchanged kept; 3 page(s)" in capsys.readouterr().out
        reader = pypdf.PdfReader(out)
        codes = sorted(zxingcpp.read_barcodes(p.images[0].image.convert("L"))[0].text for p in reader.pages)
        first = {c.volunteer_id: c for c in await store.for_event(conn, o.ev.event_id)}
        assert codes == sorted(f"https://checkin.example.org/v/{c.cert_id}" for c in first.values())

        void = {"action": "void", "session_key": o.keys[o.ids[1]], "reason": "借卡代刷"}
        await reconcile.add_correction(conn, o.ev.event_id, o.ids[1], actor=o.coordinator_id, **void)
        assert await cli.cmd_issue(cfg, args, conn, None, None) == 0  # type: ignore[arg-type]
        assert "0 certificate(s) issued, 2 unchanged kept; 2 page(s)" in capsys.readouterr().out  # no hours left

        verify = argparse.Namespace(cert=first[o.ids[1]].cert_id)
        assert await cli.cmd_verify(cfg, verify, conn, None, None) == 1  # type: ignore[arg-type]
        assert orjson.loads(capsys.readouterr().out)["reason"] == "hours_changed"
        verify = argparse.Namespace(cert=first[o.ids[0]].cert_id)
        assert await cli.cmd_verify(cfg, verify, conn, None, None) == 0  # type: ignore[arg-type]

        one = argparse.Namespace(**{**vars(args), "all": False, "volunteer": o.ids[0], "out": str(tmp_path / "1.pdf")})
        assert await cli.cmd_issue(cfg, one, conn, None, None) == 0  # type: ignore[arg-type]
        assert "0 certificate(s) issued, 1 unchanged kept" in capsys.readouterr().out  # a reprint
        assert await cli.cmd_verify(cfg, verify, conn, None, None) == 0  # type: ignore[arg-type]
        capsys.readouterr()
        with pytest.raises(ValueError, match="--all"):
            await cli.cmd_issue(cfg, argparse.Namespace(**{**vars(one), "all": True}), conn, None, None)  # type: ignore[arg-type]
        revoke = argparse.Namespace(cert=first[o.ids[0]].cert_id, actor=o.coordinator_id, reason="x")
        assert await cli.cmd_revoke(cfg, revoke, conn, None, None) == 1  # type: ignore[arg-type]
        assert "only an admin" in capsys.readouterr().err


async def test_the_openapi_schema_describes_the_verification_answer(gateway: TestClient, office: Office) -> None:
    spec = await (await gateway.get("/api/v1/openapi.json")).json()
    schema = spec["components"]["schemas"]["CertificateCheck"]
    found = await _verify(gateway, (await _issue(gateway, office, office.ids[0]))["verify_url"])
    answer = {k: v for k, v in found.items() if k not in ("status_code", "html")}
    assert set(schema["required"]) == set(answer)
    inner = spec["components"]["schemas"]["CertifiedService"]
    assert schema["properties"]["certificate"] == {"$ref": "#/components/schemas/CertifiedService"}
    assert set(inner["required"]) == set(answer["certificate"])
    assert answer["status"] in schema["properties"]["status"]["enum"]
