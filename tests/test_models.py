"""`hoixa models`: pinned, resumable, verified, atomic model installs, over real local HTTP.

Every download here comes from an http.server on 127.0.0.1 started by the test; the real
alphacephei / Hugging Face URLs are never contacted.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT
from hoixa.provisioning import models

VOSK_FOLDER = "vosk-model-small-vn-0.4"


# --- a tiny model server ---------------------------------------------------------------------


@dataclass
class Served:
    """What the local server holds and how it misbehaves; records every request it answers."""

    files: dict[str, bytes] = field(default_factory=dict)
    ranges: bool = True  # honour Range requests
    cut_first: set[str] = field(default_factory=set)  # close halfway through the first GET
    drip_seconds: float = 0.0  # pause between 8 KiB writes (slow link)
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    sent_bytes: int = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        served: Served = self.server.served
        body = served.files.get(self.path)
        wanted = self.headers.get("Range")
        if body is None:
            served.requests.append((self.path, wanted, 404))
            self.send_error(404)
            return
        start, status = 0, 200
        if wanted and served.ranges:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(body):
                served.requests.append((self.path, wanted, 416))
                self.send_error(416)
                return
            status = 206
        served.requests.append((self.path, wanted, status))
        payload = body[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        first = sum(1 for r in served.requests if r[0] == self.path) == 1
        if self.path in served.cut_first and first:
            payload = payload[: len(payload) // 2]  # then the connection closes: a cut download
        for offset in range(0, len(payload), 8192):
            self.wfile.write(payload[offset : offset + 8192])
            self.wfile.flush()
            served.sent_bytes += len(payload[offset : offset + 8192])
            if served.drip_seconds:
                time.sleep(served.drip_seconds)


class QuietServer(ThreadingHTTPServer):
    block_on_close = False

    def handle_error(self, request, client_address):
        pass  # a client killed mid-download is part of the tests


@pytest.fixture
def server():
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.served = Served()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# --- model files built in the test -------------------------------------------------------------


def vosk_zip(tag: str, size: int = 300_000, top: str = VOSK_FOLDER) -> bytes:
    """A zip shaped like alphacephei's: one top folder with am/, conf/, graph/."""
    mdl = hashlib.shake_256(tag.encode()).digest(size)  # incompressible, so the zip is big
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/am/final.mdl", mdl)
        zf.writestr(f"{top}/conf/model.conf", f"--sample-frequency=16000 # {tag}\n")
        zf.writestr(f"{top}/graph/HCLr.fst", b"fst" + tag.encode())
        zf.writestr(f"{top}/README", f"fake model {tag}\n")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vosk_spec(url: str, digest: str = "") -> models.ModelSpec:
    spec = models.lookup(models.load_registry(), "vosk-vi")
    return models.with_overrides(spec, [url], [digest] if digest else [])


def install(spec, dest, **kwargs):
    kwargs.setdefault("backoff", 0)
    kwargs.setdefault("out", io.StringIO())
    return models.install(spec, dest, **kwargs)


def installed_mdl(dest: Path) -> bytes:
    return (dest / VOSK_FOLDER / "am" / "final.mdl").read_bytes()


def expected_mdl(tag: str, size: int = 300_000) -> bytes:
    return hashlib.shake_256(tag.encode()).digest(size)


@pytest.fixture
def v1_installed(server, tmp_path):
    """A models folder where version "v1" of the Vosk model is installed and working."""
    data = vosk_zip("v1")
    server.served.files["/v1.zip"] = data
    dest = tmp_path / "models"
    install(vosk_spec(server.url + "/v1.zip", sha(data)), dest)
    assert models.verify(models.lookup(models.load_registry(), "vosk-vi"), dest) == []
    server.served.requests.clear()
    server.served.sent_bytes = 0
    return dest


def assert_v1_intact(dest: Path) -> None:
    assert installed_mdl(dest) == expected_mdl("v1")
    assert models.verify(models.lookup(models.load_registry(), "vosk-vi"), dest) == []


# --- the registry ------------------------------------------------------------------------------


def test_registry_names_the_models_the_error_messages_promise():
    registry = models.load_registry()
    assert registry["vosk-vi"].kind == "vosk" and registry["piper-vi"].kind == "piper"
    assert registry["vosk-vi"].licence == "Apache-2.0"
    for spec in registry.values():
        assert spec.licence, f"{spec.name} has no licence"
        for f in spec.files:
            assert f.url.startswith(("https://alphacephei.com/", "https://huggingface.co/"))
            if not f.sha256:
                assert "not pinned" in spec.notes, f"{spec.name}: unpinned without a note"


def test_unpinned_registry_model_is_refused_before_any_download(tmp_path):
    # The real vosk-vi entry has no pinned hash yet: nothing may be fetched (no network here).
    spec = models.lookup(models.load_registry(), "vosk-vi")
    with pytest.raises(models.ModelError, match="--sha256"):
        install(spec, tmp_path / "models")
    assert not (tmp_path / "models" / ".downloads").exists()


def test_overrides_refuse_bad_or_contradicting_hashes(tmp_path):
    spec = models.lookup(models.load_registry(), "piper-vi")
    with pytest.raises(models.ModelError, match="64 hex"):
        models.with_overrides(spec, [], ["abc", "def"])
    with pytest.raises(models.ModelError, match="2 time"):
        models.with_overrides(spec, ["http://127.0.0.1/x.onnx"], ["0" * 64])
    pinned = models.with_overrides(spec, [], ["a" * 64, "b" * 64])
    with pytest.raises(models.ModelError, match="pins"):
        models.with_overrides(pinned, [], ["c" * 64, "b" * 64])


# --- downloading --------------------------------------------------------------------------------


def test_fresh_download_installs_verifies_and_reports_progress(server, tmp_path):
    data = vosk_zip("fresh")
    server.served.files["/m.zip"] = data
    toml = tmp_path / "models.toml"
    toml.write_text(
        f'[models.vosk-test]\nkind = "vosk"\nfolder = "{VOSK_FOLDER}"\nlicence = "Apache-2.0"\n'
        f'[[models.vosk-test.files]]\nurl = "{server.url}/m.zip"\nsha256 = "{sha(data)}"\n'
    )
    spec = models.lookup(models.load_registry(toml), "vosk-test")
    out = io.StringIO()
    result = install(spec, tmp_path / "models", out=out)

    assert installed_mdl(tmp_path / "models") == expected_mdl("fresh")
    assert result.hashes == {"m.zip": sha(data)} and result.unverified == []
    assert f'vosk_model = "{tmp_path / "models" / VOSK_FOLDER}"' in result.config_lines
    assert models.verify(spec, tmp_path / "models") == []
    assert list((tmp_path / "models" / ".downloads").iterdir()) == []  # zip removed after use
    percents = [int(p) for p in re.findall(r"(\d+) %", out.getvalue())]
    assert percents[-1] == 100 and percents == sorted(set(percents))  # not a TTY: plain lines
    assert all(p % 10 == 0 for p in percents)


def test_progress_without_a_tty_prints_one_line_per_ten_percent():
    out = io.StringIO()
    progress = models.Progress("m.zip", 1000, 250, out)  # a resumed download starts at 25 %
    for _ in range(75):
        progress.update(10)
    assert re.findall(r"(\d+) % \((\d+)/1000", out.getvalue()) == [
        (str(p), str(p * 10)) for p in range(30, 101, 10)
    ]


def test_interrupted_download_resumes_with_range(server, v1_installed):
    data = vosk_zip("v2")
    server.served.files["/v2.zip"] = data
    server.served.cut_first.add("/v2.zip")
    install(vosk_spec(server.url + "/v2.zip", sha(data)), v1_installed)

    first, second = server.served.requests
    assert first == ("/v2.zip", None, 200)
    assert second[1] == f"bytes={len(data) // 2}-" and second[2] == 206
    assert server.served.sent_bytes == len(data)  # nothing fetched twice
    assert installed_mdl(v1_installed) == expected_mdl("v2")


def test_server_without_range_support_restarts_cleanly(server, v1_installed):
    data = vosk_zip("v2")
    server.served.files["/v2.zip"] = data
    server.served.cut_first.add("/v2.zip")
    server.served.ranges = False
    install(vosk_spec(server.url + "/v2.zip", sha(data)), v1_installed)

    assert [r[2] for r in server.served.requests] == [200, 200]
    assert server.served.requests[1][1] is not None  # it asked to resume, was refused
    assert installed_mdl(v1_installed) == expected_mdl("v2")


def test_retries_are_bounded(server, v1_installed):
    data = vosk_zip("v2")
    server.served.files["/other.zip"] = data
    with pytest.raises(models.ModelError, match="404"):  # a 404 is not retried
        install(vosk_spec(server.url + "/missing.zip", sha(data)), v1_installed, retries=3)
    assert len(server.served.requests) == 1
    port = server.server_address[1]
    server.shutdown()  # nobody listening any more: connection refused, every attempt
    server.server_close()
    with pytest.raises(models.ModelError, match="after 3 attempts"):
        install(vosk_spec(f"http://127.0.0.1:{port}/other.zip", sha(data)), v1_installed, retries=2)
    assert_v1_intact(v1_installed)


def test_wrong_sha256_is_refused_and_previous_model_kept(server, v1_installed):
    data = vosk_zip("v2")
    server.served.files["/v2.zip"] = data
    with pytest.raises(models.ModelError, match="SHA-256 is") as err:
        install(vosk_spec(server.url + "/v2.zip", sha(b"something else")), v1_installed)
    assert "nothing was installed" in str(err.value)
    assert_v1_intact(v1_installed)
    assert list((v1_installed / ".downloads").iterdir()) == []  # bad file not kept to resume


def test_truncated_zip_is_refused_and_previous_model_kept(server, v1_installed):
    truncated = vosk_zip("v2")[:200_000]
    server.served.files["/v2.zip"] = truncated
    # Even with a hash that matches (an admin pinned the broken file), unpacking must refuse.
    with pytest.raises(models.ModelError, match="not a complete zip"):
        install(vosk_spec(server.url + "/v2.zip", sha(truncated)), v1_installed)
    assert_v1_intact(v1_installed)


def test_zip_without_a_vosk_model_is_refused(server, v1_installed):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("something/readme.txt", "not a model")
    server.served.files["/x.zip"] = buffer.getvalue()
    with pytest.raises(models.ModelError, match=r"am/final\.mdl"):
        install(vosk_spec(server.url + "/x.zip", sha(buffer.getvalue())), v1_installed)
    assert_v1_intact(v1_installed)


# --- offline and unpinned -------------------------------------------------------------------------


def test_offline_install_from_a_folder_checks_the_hash(tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    data = vosk_zip("usb")
    (stick / "vosk-model-small-vn-0.4.zip").write_bytes(data)
    registry_spec = models.lookup(models.load_registry(), "vosk-vi")
    dest = tmp_path / "models"

    with pytest.raises(models.ModelError, match="SHA-256 is"):
        install(models.with_overrides(registry_spec, [], ["0" * 64]), dest, source_dir=stick)
    assert not (dest / VOSK_FOLDER).exists()

    install(models.with_overrides(registry_spec, [], [sha(data)]), dest, source_dir=stick)
    assert installed_mdl(dest) == expected_mdl("usb")
    assert (stick / "vosk-model-small-vn-0.4.zip").read_bytes() == data  # stick untouched

    with pytest.raises(models.ModelError, match="not found"):
        install(models.with_overrides(registry_spec, [], [sha(data)]), dest, source_dir=tmp_path)


def test_unpinned_model_refused_then_accepted_with_sha256_or_flag(server, tmp_path):
    data = vosk_zip("unpinned")
    server.served.files["/u.zip"] = data
    toml = tmp_path / "models.toml"
    toml.write_text(
        f'[models.u]\nkind = "vosk"\nfolder = "{VOSK_FOLDER}"\nnotes = "not pinned"\n'
        f'[[models.u.files]]\nurl = "{server.url}/u.zip"\nsha256 = ""\n'
    )
    spec = models.lookup(models.load_registry(toml), "u")
    dest = tmp_path / "models"
    with pytest.raises(models.ModelError, match="no SHA-256 is pinned"):
        install(spec, dest)
    assert server.served.requests == []

    install(models.with_overrides(spec, [], [sha(data)]), dest)
    assert installed_mdl(dest) == expected_mdl("unpinned")

    result = install(spec, dest, accept_unverified=True)
    text = models.describe_install(result)
    assert result.unverified == ["u.zip"]
    assert f"sha256 = {sha(data)}" in text and "pin" in text


# --- Piper voices ---------------------------------------------------------------------------------


def piper_spec(server, onnx: bytes, config: bytes) -> models.ModelSpec:
    server.served.files["/v.onnx"] = onnx
    server.served.files["/v.onnx.json"] = config
    spec = models.lookup(models.load_registry(), "piper-vi")
    return models.with_overrides(
        spec,
        [server.url + "/v.onnx", server.url + "/v.onnx.json"],
        [sha(onnx), sha(config)],
    )


def test_piper_voice_installs_beside_its_json(server, tmp_path):
    onnx = os.urandom(50_000)
    config = json.dumps({"audio": {"sample_rate": 22050}}).encode()
    result = install(piper_spec(server, onnx, config), tmp_path / "models")
    voice = Path(re.search(r'piper_voice = "(.+)"', result.config_lines).group(1))
    assert voice.read_bytes() == onnx
    assert Path(f"{voice}.json").read_bytes() == config
    assert models.verify(result.spec, tmp_path / "models") == []


def test_piper_voice_without_a_sample_rate_is_refused(server, tmp_path):
    spec = piper_spec(server, os.urandom(1000), b'{"audio": {}}')
    with pytest.raises(models.ModelError, match="sample_rate"):
        install(spec, tmp_path / "models")
    assert not (tmp_path / "models" / spec.folder).exists()


# --- verify --------------------------------------------------------------------------------


def test_verify_detects_modified_missing_and_extra_files(v1_installed):
    spec = models.lookup(models.load_registry(), "vosk-vi")
    model = v1_installed / VOSK_FOLDER
    with (model / "conf" / "model.conf").open("a") as f:
        f.write("--tampered\n")
    (model / "graph" / "HCLr.fst").unlink()
    (model / "extra.bin").write_bytes(b"x")
    assert sorted(models.verify(spec, v1_installed)) == [
        "missing: graph/HCLr.fst",
        "modified: conf/model.conf",
        "unexpected file: extra.bin",
    ]


# --- power cuts (a killed process) ---------------------------------------------------------------

KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from hoixa.provisioning import models

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[4]
if point == "unpack":
    models.check_content = die
elif point == "between-renames":
    models._exchange = lambda a, b: False
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if Path(dst).name.startswith(models.ASIDE_PREFIX):
            die()
    os.rename = rename
spec = models.with_overrides(
    models.lookup(models.load_registry(), "vosk-vi"), [sys.argv[1]], [sys.argv[2]]
)
models.install(spec, Path(sys.argv[3]), backoff=0)
"""


@pytest.mark.parametrize("point", ["unpack", "between-renames"])
def test_power_cut_mid_install_leaves_previous_model_usable(server, v1_installed, point):
    data = vosk_zip("v2")
    server.served.files["/v2.zip"] = data
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, server.url + "/v2.zip", sha(data), v1_installed, point],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if point == "between-renames":
        assert not (v1_installed / VOSK_FOLDER).exists()  # the worst moment really happened
        models.recover(v1_installed)  # what every `hoixa models` run does first
    assert_v1_intact(v1_installed)
    install(vosk_spec(server.url + "/v2.zip", sha(data)), v1_installed)
    assert installed_mdl(v1_installed) == expected_mdl("v2")
    leftovers = [p.name for p in v1_installed.iterdir() if p.name.startswith((".old-", ".tmp-"))]
    assert leftovers == []


def hoixa(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hoixa.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def test_killed_download_keeps_previous_model_and_resumes(server, v1_installed):
    data = vosk_zip("v2")
    server.served.files["/v2.zip"] = data
    server.served.drip_seconds = 0.05
    part = v1_installed / ".downloads" / "v2.zip.part"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoixa.cli", "models", "install", "vosk-vi", "--dest",
         str(v1_installed), "--url", server.url + "/v2.zip", "--sha256", sha(data)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 50_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    assert_v1_intact(v1_installed)

    server.served.drip_seconds = 0
    install(vosk_spec(server.url + "/v2.zip", sha(data)), v1_installed)
    assert server.served.requests[-1][1:] == (f"bytes={kept}-", 206)
    assert installed_mdl(v1_installed) == expected_mdl("v2")


# --- the command line ----------------------------------------------------------------------


def test_cli_round_trip(server, tmp_path):
    data = vosk_zip("cli")
    server.served.files["/cli.zip"] = data
    dest = str(tmp_path / "models")
    proc = hoixa(
        "models", "install", "vosk-vi", "--dest", dest,
        "--url", server.url + "/cli.zip", "--sha256", sha(data),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f'vosk_model = "{dest}/{VOSK_FOLDER}"' in proc.stdout
    assert installed_mdl(Path(dest)) == expected_mdl("cli")

    listing = hoixa("models", "list", "--dest", dest)
    assert re.search(rf"vosk-vi\tvosk\tNOT pinned\t{dest}/{VOSK_FOLDER}\t", listing.stdout)
    assert hoixa("models", "verify", "vosk-vi", "--dest", dest).returncode == 0

    (Path(dest) / VOSK_FOLDER / "am" / "final.mdl").write_bytes(b"damaged")
    proc = hoixa("models", "verify", "vosk-vi", "--dest", dest)
    assert proc.returncode == 1 and "modified: am/final.mdl" in proc.stderr

    proc = hoixa(
        "models", "install", "vosk-vi", "--dest", dest,
        "--url", server.url + "/cli.zip", "--sha256", "0" * 64,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "SHA-256 is" in proc.stderr and "Chưa cài được" in proc.stderr


def test_cli_default_destination_follows_hoixa_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOIXA_DATA_DIR", str(tmp_path))
    assert models.resolve_dest(None) == tmp_path / "models"
    assert models.resolve_dest(str(tmp_path / "x")) == tmp_path / "x"
    monkeypatch.delenv("HOIXA_DATA_DIR")
    assert models.resolve_dest(None) == Path("/var/lib/hoixa/models")
