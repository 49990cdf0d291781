"""A running system and a real Chromium for the browser tests.

`live_system` (session): the gateway on real TCP ports (HTTP, and HTTPS with a generated local CA),
a Recorder writing to Postgres and the live websocket server, all on one event loop in a background
thread, so the tests' own waiting never starves them. `live_system.scenario()` makes an open event
(tests/factories.py); `live_system.fetch*()` read Postgres.

`browser` (session): headless Debian Chromium driven by async Playwright, with a fake camera that
shows nothing useful; `launch_browser(camera=path.y4m, trust_ca=path.pem)` starts another one with
a given fake camera stream. `artifacts` is test-artifacts/browser/ at the repo root (git-ignored).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from websockets.asyncio.server import serve as ws_serve

import checkin.access.staff_sessions as staff_sessions
from checkin.access.accounts import add_user
from checkin.config import Config
from checkin.consumers.live import LiveServer
from checkin.consumers.recorder import make_recorder
from checkin.gateway.app import create_app
from checkin.keys import Keys
from checkin.servers import free_port
from checkin.tls import TlsFiles, ensure_local_certificate, server_ssl_context
from loadtest.event_factory import Scenario, make_event

T = TypeVar("T")
STAFF_PASSWORD = "lantern-festival-2024"
CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveSystem:
    """The running gateway, recorder and live server; coroutines run on their loop via run()/arun()."""

    config: Config
    base_url: str  # http://127.0.0.1:PORT
    https_url: str  # https://localhost:PORT, certificate signed by tls.ca_cert
    live_url: str  # ws://127.0.0.1:PORT
    tls: TlsFiles
    loop: asyncio.AbstractEventLoop
    pool: asyncpg.Pool = field(repr=False)
    redis: aioredis.Redis = field(repr=False)
    keys: Keys = field(repr=False)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the system's loop and wait for it (from sync code)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the system's loop and await it (from a test's own loop)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def _scenario(self, **kwargs: Any) -> Scenario:
        async with self.pool.acquire() as conn:
            return await make_event(conn, self.redis, self.keys, **kwargs)

    def scenario(self, **kwargs: Any) -> Scenario:
        """A fresh open event (make_event's keyword arguments) with an enrolled device at its desk gate."""
        return self.run(self._scenario(**kwargs))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return self.run(self.pool.fetch(sql, *args))

    def fetchval(self, sql: str, *args: Any) -> Any:
        return self.run(self.pool.fetchval(sql, *args))

    async def afetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.arun(self.pool.fetch(sql, *args))

    async def afetchval(self, sql: str, *args: Any) -> Any:
        return await self.arun(self.pool.fetchval(sql, *args))

    async def _account(self, role: str, event_id: str | None, password: str) -> str:
        login = f"{role}-{secrets.token_hex(4)}"
        async with self.pool.acquire() as conn:
            user_id, _ = await add_user(conn, login, role, event_id)
            await staff_sessions.set_login(conn, user_id, login)
            await conn.execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id,
                               staff_sessions.hash_password(password))
        return login

    async def account(self, role: str, event_id: str | None = None, password: str = STAFF_PASSWORD) -> str:
        """A staff account that signs in with a password (an admin, or a coordinator of event_id); its login."""
        return await self.arun(self._account(role, event_id, password))


async def _run_system(config: Config, ready: Callable[[LiveSystem], None], stop: asyncio.Event) -> None:
    pool = await asyncpg.create_pool(config.postgres_url, min_size=1, max_size=4)
    assert pool is not None
    redis = aioredis.Redis.from_url(config.redis_url or "")
    keys = Keys(config.redis_prefix)
    async with pool.acquire() as conn:
        # The gateway reads the signing keys at start (then every KEY_REFRESH_S): issue one event's cards first,
        # so the factories' key is known from the first scan.
        await make_event(conn, redis, keys, volunteers=1)
    runner = web.AppRunner(create_app(config), access_log=None, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    http_port, https_port = config.gateway_port, free_port()
    tls_files = ensure_local_certificate(config.data_dir, ["localhost", "127.0.0.1"])
    tls_config = replace(config, tls_cert=tls_files.cert, tls_key=tls_files.key)
    sites = [web.TCPSite(runner, "127.0.0.1", http_port),
             web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=server_ssl_context(tls_config))]
    for site in sites:
        await site.start()
    recorder = make_recorder(config, redis, "browser-tests")
    recording = asyncio.create_task(recorder.run())
    live = LiveServer(config, pool, redis)
    async with ws_serve(live.handle, "127.0.0.1", config.live_port, process_request=live.authorize):
        ready(LiveSystem(config, f"http://127.0.0.1:{http_port}", f"https://localhost:{https_port}",
                         f"ws://127.0.0.1:{config.live_port}", tls_files, asyncio.get_running_loop(),
                         pool, redis, keys))
        await stop.wait()
    await live.close()
    recorder.stop()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(recording, 5)
    await runner.cleanup()
    await redis.aclose()
    await pool.close()


@pytest.fixture(scope="session")
def live_system(test_config: Config) -> Iterator[LiveSystem]:
    # Its own key prefix (still under the tests' one, so it is cleaned up): this system lives for the whole
    # session, and its recorder must not read the integration tests' event streams meanwhile.
    config = replace(test_config, gateway_port=free_port(), live_port=free_port(),
                     redis_prefix=f"{test_config.redis_prefix}:browser")
    started: list[LiveSystem] = []
    failed: list[BaseException] = []
    up = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def ready(system: LiveSystem) -> None:
        started.append(system)
        up.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_run_system(config, ready, stop))
        except BaseException as exc:  # noqa: BLE001 - reported to the fixture below
            failed.append(exc)
            up.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="live-system", daemon=True)
    thread.start()
    up.wait(60)
    if failed:
        raise failed[0]
    assert started, "the live system did not start within 60 s"
    yield started[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(15)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = REPO / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def spki_hash(cert_pem: Path) -> str:
    """base64 sha256 of a certificate's public key, as Chromium's --ignore-certificate-errors-spki-list wants."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


@pytest.fixture(scope="session")
async def launch_browser() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """launch(camera=Path|None, trust_ca=Path|None, flags=(...)) -> a Playwright Browser (closed at session end).

    trust_ca: accept certificates whose chain holds that CA's key (Chromium's SPKI pin), which is what
    installing the CA on a tablet does; every other certificate error still fails.
    """
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (make browser-deps)")
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    browsers: list[Any] = []

    async def launch(camera: Path | None = None, trust_ca: Path | None = None, flags: tuple[str, ...] = ()) -> Any:
        args = [*CHROMIUM_FLAGS, *flags]
        if camera is not None:
            args.append(f"--use-file-for-fake-video-capture={camera.resolve()}")
        if trust_ca is not None:
            args.append(f"--ignore-certificate-errors-spki-list={spki_hash(trust_ca)}")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        with contextlib.suppress(Exception):
            await browser.close()
    await playwright.stop()


@pytest.fixture(scope="session")
async def browser(launch_browser: Callable[..., Awaitable[Any]]) -> Any:
    """A shared headless Chromium whose fake camera shows Chromium's test pattern (no QR)."""
    return await launch_browser()
