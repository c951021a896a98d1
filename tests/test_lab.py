"""`make lab` serves the course: JupyterLab answers, finds chapter 00, and starts a kernel."""

import json
import secrets
import socket
import subprocess
import time
import urllib.request

import pytest

from coursekit import lab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET"):
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_overrides_start_the_kernel_without_a_dialog(tmp_path):
    target = lab.install_overrides(tmp_path)
    settings = json.loads(target.read_text())
    assert target == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert settings["@jupyterlab/notebook-extension:tracker"]["autoStartDefaultKernel"] is True
    assert settings["@jupyterlab/notebook-extension:tracker"]["windowingMode"] == "none"
    # no "Would you like to get notified about official Jupyter news?" toast over the plots
    # (JupyterLab asks while fetchNews is "none", its default)
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.fixture(scope="module")
def server():
    port, token = _free_port(), secrets.token_hex(16)
    cmd = lab.lab_command(port, token=token, browser=False)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_lab_serves_chapter_00_and_starts_a_kernel(server):
    base, token = server
    model = _get(f"{base}/api/contents/chapters/00_language_models.ipynb?token={token}")
    assert model["type"] == "notebook"
    assert model["content"]["metadata"]["kernelspec"]["name"] == "python3"
    kernel = _get(f"{base}/api/kernels?token={token}", method="POST")
    assert kernel["name"] == "python3"
    assert any(k["id"] == kernel["id"] for k in _get(f"{base}/api/kernels?token={token}"))
