"""The pages under /kiosk/: each folder serves its page, and every address in use before the folders redirects."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

OLD_TO_NEW = [
    ("/", "/kiosk/gate/"),
    ("/kiosk/", "/kiosk/gate/"),
    ("/kiosk/index.html", "/kiosk/gate/"),
    ("/kiosk/dashboard.html?event=e1", "/kiosk/dashboard/?event=e1"),
    ("/kiosk/office.html", "/kiosk/office/"),
    ("/kiosk/coordinator.html", "/kiosk/coordinator/"),
    ("/kiosk/card.html", "/kiosk/card/"),
    ("/kiosk/card", "/kiosk/card/"),
]


@pytest.mark.parametrize(("old", "new"), OLD_TO_NEW)
async def test_an_old_address_redirects_to_its_page(gateway: TestClient, old: str, new: str) -> None:
    resp = await gateway.get(old, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == new


@pytest.mark.parametrize("page", ["gate", "dashboard", "office", "coordinator", "card"])
async def test_each_page_folder_serves_its_page(gateway: TestClient, page: str) -> None:
    resp = await gateway.get(f"/kiosk/{page}/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "<!doctype html>" in (await resp.text()).lower()


@pytest.mark.parametrize("path", ["/kiosk/sw.js", "/kiosk/card-sw.js", "/kiosk/shared/sw-cache.js",
                                  "/kiosk/shared/api.js", "/kiosk/gate/main.js"])
async def test_workers_and_modules_are_served(gateway: TestClient, path: str) -> None:
    resp = await gateway.get(path)
    assert resp.status == 200
    assert "javascript" in resp.content_type


async def test_a_missing_file_is_still_404(gateway: TestClient) -> None:
    assert (await gateway.get("/kiosk/js/main.js")).status == 404
