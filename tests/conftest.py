"""Suite-wide guards.

No test may reach a host outside this machine: real LLM APIs are not reachable
here and a test that silently depended on one would pass for the wrong reason.
Every outbound socket connection to a non-loopback address fails the test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.kafka_server import KafkaCluster, kafka_cluster

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class OutsideHostError(AssertionError):
    """A test tried to talk to a host other than this machine."""


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: Any) -> None:
    if isinstance(address, tuple) and address and not _is_local(address[0]):
        raise OutsideHostError(f"test tried to connect to outside host {address[0]!r}")


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_local(host):
        raise OutsideHostError(f"test tried to resolve outside host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


@pytest.fixture(autouse=True)
def _no_leaked_emulator_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """firebase-admin reads the emulator host only from os.environ, so the Firebase authenticator
    sets it process-wide; undo it after every test so no later test inherits emulator mode."""
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "")  # records the original value for undo
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST")


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One single-node Apache Kafka (KRaft) for the session, started on first use (~9 s here);
    tests isolate themselves by topic prefix and consumer group."""
    with kafka_cluster(tmp_path_factory.mktemp("kafka"), nodes=1) as cluster:
        yield cluster
