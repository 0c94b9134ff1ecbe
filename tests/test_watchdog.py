import socket

from hoixa.device.watchdog import Watchdog


def test_messages_reach_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        dog = Watchdog(path)
        dog.ready("ready")
        assert server.recv(100) == b"READY=1\nSTATUS=ready"
        dog.ping()
        dog.ping()  # too soon: not sent
        dog.stopping()
        assert server.recv(100) == b"WATCHDOG=1"
        assert server.recv(100) == b"STOPPING=1"


def test_without_systemd_nothing_happens(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    dog = Watchdog()
    assert not dog.enabled
    dog.ready()
    dog.ping()
