"""The digital card page on a phone-sized screen: QR shown, still shown offline after a reload, gone when revoked."""

from __future__ import annotations

from pathlib import Path

from checkin.cards.links import card_url, create_link
from checkin.cards.store import revoke_card
from tests.browser.conftest import LiveSystem
from tests.browser.test_kiosk import wait_controlled

WAIT_MS = 15_000
PHONE = {"width": 390, "height": 844}


async def _link(live_system: LiveSystem, volunteer_id: str) -> tuple[str, str]:
    async with live_system.pool.acquire() as conn:
        return await create_link(conn, volunteer_id)


async def _revoke(live_system: LiveSystem, card_id: str) -> None:
    async with live_system.pool.acquire() as conn:
        await revoke_card(conn, live_system.redis, live_system.keys, card_id, "lost")


async def _qr_side(page) -> float:  # type: ignore[no-untyped-def]
    box = await page.locator("#qr svg").bounding_box()
    assert box is not None
    return min(box["width"], box["height"])


async def test_card_link_offline_then_revoked(browser, live_system: LiveSystem, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    scenario = live_system.scenario(volunteers=2)
    volunteer_id, _ = scenario.cards[0]
    token, card_id = await live_system.arun(_link(live_system, volunteer_id))
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await page.goto(card_url(live_system.base_url, token))

    await page.wait_for_selector("#qr svg path", timeout=WAIT_MS)
    assert await page.locator("#number").inner_text() == f"{card_id[:4]} {card_id[4:]}"
    assert await page.locator("#name").inner_text() == "志○○○○號"  # masked, as at the gates
    assert await page.locator("#team").inner_text() == "測試志工隊"
    assert await _qr_side(page) >= 0.9 * PHONE["width"]  # as wide as the phone allows
    await page.screenshot(path=str(artifacts / "card.png"))

    # Offline from cold: the page's own service worker serves it, the card comes from localStorage.
    await wait_controlled(page)
    await context.set_offline(True)
    await page.reload()
    await page.wait_for_selector("#qr svg path", timeout=WAIT_MS)
    assert await page.locator("#number").inner_text() == f"{card_id[:4]} {card_id[4:]}"
    assert "離線" in await page.locator("#note").inner_text()
    await page.screenshot(path=str(artifacts / "card-offline.png"))

    # Online again after the card was revoked: the next load deletes it from the phone and says so.
    await live_system.arun(_revoke(live_system, card_id))
    await context.set_offline(False)
    await page.reload()
    await page.wait_for_selector("body.revoked", timeout=WAIT_MS)
    assert "請洽志工隊" in await page.locator("#message").inner_text()
    assert await page.locator("#qr svg").count() == 0
    assert await page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('checkin.card.v1.'))") == []
    await page.locator("#lang").click()
    assert "contact your team" in await page.locator("#message").inner_text()
    await page.screenshot(path=str(artifacts / "card-revoked.png"))

    # ... and stays revoked offline: nothing is left to show.
    await context.set_offline(True)
    await page.reload()
    await page.wait_for_selector("body.failed", timeout=WAIT_MS)
    assert await page.locator("#qr svg").count() == 0
    await context.close()
