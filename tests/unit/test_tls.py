"""The gateway's TLS: configured files, or a local CA and server certificate made on first run."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from checkin.config import Config, ConfigError, from_env
from checkin.tls import ensure_local_certificate, is_loopback, local_names, server_ssl_context


def test_loopback_host_serves_plain_http(tmp_path: Path) -> None:
    assert server_ssl_context(Config(host="127.0.0.1", data_dir=tmp_path)) is None
    assert not (tmp_path / "tls").exists()
    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_lan_host_gets_a_local_ca_once(tmp_path: Path) -> None:
    context = server_ssl_context(Config(host="192.168.50.10", data_dir=tmp_path))
    assert context is not None
    folder = tmp_path / "tls"
    assert (folder / "ca.key").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate((folder / "server.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "192.168.50.10" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    ca_before = (folder / "ca.pem").read_bytes()
    server_before = (folder / "server.pem").read_bytes()
    server_ssl_context(Config(host="192.168.50.10", data_dir=tmp_path))
    assert (folder / "server.pem").read_bytes() == server_before  # names covered: nothing re-made
    server_ssl_context(Config(host="10.1.2.3", data_dir=tmp_path))
    assert (folder / "ca.pem").read_bytes() == ca_before  # the CA tablets trust never changes
    assert (folder / "server.pem").read_bytes() != server_before


def test_a_client_trusting_the_ca_completes_a_handshake(tmp_path: Path) -> None:
    files = ensure_local_certificate(tmp_path, ["localhost", "127.0.0.1"])
    server_ctx = server_ssl_context(Config(host="0.0.0.0", data_dir=tmp_path, tls_cert=files.cert, tls_key=files.key))
    assert server_ctx is not None
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve_one)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()


def test_local_names_list_the_host_first(tmp_path: Path) -> None:
    names = local_names("gate.example.lan")
    assert names[0] == "gate.example.lan"
    assert "127.0.0.1" in names and len(names) == len(set(names))


def test_config_needs_both_tls_files() -> None:
    with pytest.raises(ConfigError, match="CHECKIN_TLS_CERT and CHECKIN_TLS_KEY"):
        from_env({"CHECKIN_TLS_CERT": "/etc/cert.pem"})
    cfg = from_env({"CHECKIN_TLS_CERT": "/etc/cert.pem", "CHECKIN_TLS_KEY": "/etc/key.pem"})
    assert cfg.tls_cert == Path("/etc/cert.pem") and cfg.tls_key == Path("/etc/key.pem")
