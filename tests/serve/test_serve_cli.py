"""`roots serve` end to end: a subprocess serving a roots run folder, API key from the environment, clean stop."""

import os
import signal
import subprocess
import sys
import time

import httpx
from serve_helpers import free_port

from roots.cli import main


def test_serve_a_roots_run_and_stop_on_sigterm(roots_run_dir):
    port = free_port()
    env = {**os.environ, "ROOTS_API_KEY": "k3y", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), *sys.path) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "roots.cli", "serve", "--model", str(roots_run_dir),
                             "--port", str(port), "--drain_seconds", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        assert httpx.get(url + "/v1/models").status_code == 401
        r = httpx.post(url + "/v1/completions", headers={"Authorization": "Bearer k3y"}, timeout=30,
                       json={"model": "nano-run", "prompt": "The quick", "max_tokens": 5, "temperature": 0})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] <= 5
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped serving" in out


def test_serve_without_a_model_is_a_clear_error(capsys):
    assert main(["serve"]) == 2
    assert "--model" in capsys.readouterr().err
