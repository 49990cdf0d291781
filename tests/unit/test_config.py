from pathlib import Path

import pytest

from checkin.config import ConfigError, from_env


def test_defaults_bind_to_loopback_and_start_embedded_servers() -> None:
    cfg = from_env({})
    assert cfg.host == "127.0.0.1"
    assert cfg.postgres_url is None and cfg.redis_url is None
    assert cfg.embedded
    assert cfg.key_path == Path(".checkin-data") / "keys" / "signing.key"


def test_values_are_read_and_typed() -> None:
    cfg = from_env({
        "CHECKIN_POSTGRES_URL": "postgresql://u@db:5432/checkin", "CHECKIN_REDIS_URL": "redis://cache:6379/0",
        "CHECKIN_GATEWAY_PORT": "9000", "CHECKIN_DATA_DIR": "/var/lib/checkin", "CHECKIN_REDIS_PREFIX": "fest",
        "CHECKIN_LOG_LEVEL": "debug", "CHECKIN_PUBLIC_URL": "https://checkin.example.org/",
    })
    assert cfg.public_url == "https://checkin.example.org"  # links are joined with "/v/..."
    assert cfg.gateway_port == 9000
    assert cfg.data_dir == Path("/var/lib/checkin")
    assert cfg.redis_prefix == "fest"
    assert cfg.log_level == "DEBUG"
    assert not cfg.embedded


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CHECKIN_POSTGRES_URL": "mysql://x"}, "CHECKIN_POSTGRES_URL"),
        ({"CHECKIN_REDIS_URL": "redis://cache:99999999/0"}, "malformed port"),
        ({"CHECKIN_REDIS_URL": "redis:///0"}, "no host"),
        ({"CHECKIN_GATEWAY_PORT": "0"}, "between 1 and 65535"),
        ({"CHECKIN_LIVE_PORT": "x"}, "whole number"),
        ({"CHECKIN_REDIS_PREFIX": "a{b}"}, "braces"),
        ({"CHECKIN_LOG_LEVEL": "LOUD"}, "CHECKIN_LOG_LEVEL"),
        ({"CHECKIN_PUBLIC_URL": "checkin.example.org"}, "CHECKIN_PUBLIC_URL"),
        ({"CHECKIN_PUBLIC_URL": "https://x.org/#frag"}, "CHECKIN_PUBLIC_URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_env(env)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_allowed_hosts_are_names_or_addresses_without_ports() -> None:
    config = from_env({"CHECKIN_ALLOWED_HOSTS": "Gate.Example.org, 192.168.1.10,[::1]"})
    assert config.allowed_hosts == frozenset({"gate.example.org", "192.168.1.10", "::1"})
    for bad in ("gate.example.org:8443", "http://gate.example.org", "a b", "evil.example/x"):
        with pytest.raises(ConfigError, match="CHECKIN_ALLOWED_HOSTS"):
            from_env({"CHECKIN_ALLOWED_HOSTS": bad})


def test_trusted_proxies_are_addresses_or_networks() -> None:
    config = from_env({"CHECKIN_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]
    with pytest.raises(ConfigError, match="CHECKIN_TRUSTED_PROXIES"):
        from_env({"CHECKIN_TRUSTED_PROXIES": "proxy.example"})
