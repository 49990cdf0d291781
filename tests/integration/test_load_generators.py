"""The benchmark's load generators against a small loopback server that keeps every request it gets:
wrk with loadtest/wrk_scans.lua (the closed loop) and loadtest/open_loop.c (the open loop).

The figures are only honest if each prebuilt scan goes out exactly once (a repeat would be an idempotent
replay, not a new scan), if the open loop times from the scheduled moment (so a queue shows as latency),
and if each generator's CPU time is measured.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import hiredis
import orjson
import pytest

from loadtest import c_open_loop, wrk_load
from loadtest.http_load import PhaseStats, Request
from loadtest.reference import RespPipe


class KeepingServer:
    """HTTP/1.1 keep-alive on loopback: answers every request 200 (after delay_s) and keeps (method, body)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buf += chunk
                    continue
                head = buf[:end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                while len(buf) < end + 4 + length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[end + 4:end + 4 + length], buf[end + 4 + length:]
                with self.lock:
                    self.seen.append((head.split(" ", 1)[0], body))
                if self.delay_s:
                    time.sleep(self.delay_s)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.sock.close()


def _request(device: int, seq: int, port: int) -> Request:
    body = orjson.dumps({"scan_id": f"{device:04d}-{seq:06d}", "seq": seq})
    head = (f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer kiosk-{device}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return Request(device, head.encode() + body, 1, False)


def test_every_prebuilt_scan_goes_out_once_and_wrk_stops_when_they_run_out(tmp_path: Path) -> None:
    server = KeepingServer()
    try:
        requests = [_request(device, seq, server.port) for seq in range(1, 101) for device in range(6)]
        prefix = wrk_load.prepare(requests, 2, tmp_path)
        run = wrk_load.run_closed("127.0.0.1", server.port, prefix, 2, 6, 3, tmp_path)
    finally:
        server.close()
    posted = Counter(body for method, body in server.seen if method == "POST")
    assert posted == Counter(r.data.split(b"\r\n\r\n", 1)[1] for r in requests)  # each exactly once
    checks = sum(1 for method, _ in server.seen if method == "GET")
    summary = run.summary
    assert summary["sent"] == 600
    assert summary["exhausted_threads"] == 2  # both threads ran out rather than send a scan twice
    assert 1 <= checks <= summary["extra"]  # a stopped thread may not have written its last check
    # A stopped thread reads no more answers: at most one a connection goes uncounted.
    assert 600 - 6 <= summary["responses"] <= 600 + summary["extra"]
    assert summary["status_errors"] == 0 and summary["connect_errors"] == 0
    assert run.cpu_s > 0 and run.wall_s > 0
    assert "-c" in run.command and run.command[run.command.index("-c") + 1] == "6"


def test_each_kiosk_is_sent_by_one_thread_in_order(tmp_path: Path) -> None:
    requests = [_request(device, seq, 1) for seq in range(1, 4) for device in range(5)]
    counts = wrk_load.write_requests(requests, 2, tmp_path / "r")
    assert counts == [9, 6]  # kiosks 0, 2, 4 and kiosks 1, 3
    for part, devices in ((0, (0, 2, 4)), (1, (1, 3))):
        data = (tmp_path / f"r.{part}").read_bytes()
        expected = b"".join(b"%d\n" % len(r.data) + r.data for r in requests if r.device in devices)
        assert data == expected


def test_summary_line_is_found_among_wrks_own_output() -> None:
    out = "Running 1s test\n  1 threads\nWRK-JSON {\"sent\": 3, \"latency_us\": {\"p99\": 120}}\nRequests/sec: 3\n"
    assert wrk_load.parse_summary(out) == {"sent": 3, "latency_us": {"p99": 120}}


def _bodies(requests: list[Request]) -> Counter[bytes]:
    return Counter(r.data.split(b"\r\n\r\n", 1)[1] for r in requests)


def test_open_loop_client_sends_each_request_once_on_its_kiosks_connection(tmp_path: Path) -> None:
    server = KeepingServer()
    binary = c_open_loop.build(tmp_path)
    try:
        requests = [_request(device, seq, server.port) for seq in range(1, 41) for device in (3, 17, 40)]
        stats, sent = c_open_loop.open_loop(binary, "127.0.0.1", server.port, requests, 400, 5, tmp_path)
    finally:
        server.close()
    assert sent == stats.sent_requests == stats.sent_scans == 120
    assert Counter(body for method, body in server.seen if method == "POST") == _bodies(requests)
    assert stats.answered_requests == stats.answered_scans == 120 and stats.failed_scans == 0
    assert len(stats.latencies_ms) == len(stats.send_lag_ms) == 120 and not stats.errors
    assert stats.generator_cpu_s > 0 and stats.generator_wall_s > 0 and stats.last_answer > 0


def test_open_loop_client_times_from_the_schedule_so_a_queue_shows_as_latency(tmp_path: Path) -> None:
    server = KeepingServer(delay_s=0.02)  # one kiosk, one connection: at most 50 answers a second
    binary = c_open_loop.build(tmp_path)
    try:
        requests = [_request(0, seq, server.port) for seq in range(1, 41)]
        # 40 requests due within 40 ms: they pipeline on the one connection and wait their turn.
        stats, _ = c_open_loop.open_loop(binary, "127.0.0.1", server.port, requests, 1000, 5, tmp_path)
    finally:
        server.close()
    assert stats.answered_requests == 40
    # The last answer cannot come before 40 x 20 ms after the start, and it was due at 39 ms.
    assert max(stats.latencies_ms) >= 40 * 20 - 40
    assert sorted(stats.latencies_ms)[0] >= 20


def test_open_loop_client_counts_refusals_and_losses(tmp_path: Path) -> None:
    requests = [_request(0, 1, 1), _request(1, 1, 1)]
    count = c_open_loop.write_requests(requests, tmp_path / "r")
    assert count == 2
    assert (tmp_path / "r").read_bytes().startswith(b"0 1 0 %d\n" % len(requests[0].data))
    (tmp_path / "answers").write_text("s 200 3.5 0.1 1\ns 503 9.0 0.2 1\nb 0 30000.0 0.1 25\n")
    stats = PhaseStats("open")
    c_open_loop.read_answers(tmp_path / "answers", stats)
    assert stats.latencies_ms == [3.5, 9.0] and stats.batch_latencies_ms == []
    assert stats.errors == Counter({"http 503": 1, "no answer (connection lost or answer timeout)": 25})
    assert stats.send_lag_ms == [0.1, 0.2, 0.1]


async def test_reference_client_signs_in_as_the_url_says(redis_url: str) -> None:
    """The drain and reference phases talk RESP directly and send AUTH when the URL has a password."""
    pipe = await RespPipe.connect(redis_url)
    try:
        assert await pipe.run([hiredis.pack_command(("PING",))]) == [b"PONG"]
    finally:
        await pipe.close()
    # A wrong password is refused whether or not the server has one (a server without one answers
    # AUTH with an error too), so this holds against the embedded Valkey and the system Redis alike.
    parts = urlsplit(redis_url)
    wrong = urlunsplit(parts._replace(netloc=f":not-{parts.password or 'set'}@{parts.hostname}:{parts.port}"))
    with pytest.raises(hiredis.ReplyError):
        await RespPipe.connect(wrong)
