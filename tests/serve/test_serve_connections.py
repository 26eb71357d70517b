"""Connection hygiene: Host check, header and keep-alive timeouts, the connection cap, the open-file limit."""

import socket
import time

import httpx
import pytest
from serve_helpers import live_server

from roots.serve.config import ServeConfig
from roots.serve.connections import raise_open_file_limit
from roots.serve.middleware import host_name


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def closed_by_server(sock, within=15.0) -> bool:
    """True once the server has closed `sock` (recv returns b"" or the connection resets)."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_host_names_are_parsed():
    assert host_name("Example.com:8000") == "example.com"
    assert host_name("[::1]:8000") == "::1" and host_name("127.0.0.1") == "127.0.0.1"
    assert ServeConfig(host="127.0.0.1").hosts() == ["localhost", "127.0.0.1", "::1"]
    assert ServeConfig(host="0.0.0.0").hosts() == []
    assert ServeConfig(host="127.0.0.1", allowed_hosts=["*"]).hosts() == []


def test_loopback_server_rejects_other_host_headers(tiny_model):
    with live_server(tiny_model) as (url, _app):
        port = port_of(url)
        assert httpx.get(url + "/v1/models").status_code == 200
        assert httpx.get(url + "/v1/models", headers={"Host": f"localhost:{port}"}).status_code == 200
        evil = httpx.get(url + "/v1/models", headers={"Host": f"attacker.example:{port}"})
        assert evil.status_code == 400 and evil.json()["error"]["code"] == "host_not_allowed"
    with live_server(tiny_model, allowed_hosts=["models.internal"]) as (url, _app):
        assert httpx.get(url + "/health", headers={"Host": "models.internal"}).status_code == 200
        assert httpx.get(url + "/health").status_code == 400


def test_idle_and_slow_header_connections_are_closed(tiny_model):
    with live_server(tiny_model, header_seconds=0.5, keep_alive_seconds=1) as (url, _app):
        port = port_of(url)
        idle = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers never end
        assert closed_by_server(idle) and closed_by_server(slow)
        with httpx.Client() as client:  # a keep-alive connection that served a request, then idles
            assert client.get(url + "/health").status_code == 200
        assert httpx.get(url + "/health").status_code == 200  # the server still serves
        idle.close()
        slow.close()


def test_connections_over_the_cap_get_503(tiny_model):
    with live_server(tiny_model, max_connections=3, header_seconds=60) as (url, _app):
        port = port_of(url)
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        time.sleep(0.3)  # let the server accept them
        try:
            r = httpx.get(url + "/health")
            assert r.status_code == 503
        finally:
            for s in held:
                s.close()
        deadline = time.monotonic() + 10
        while httpx.get(url + "/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_open_file_limit_is_raised_to_the_hard_limit():
    resource = pytest.importorskip("resource")
    raise_open_file_limit()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY
