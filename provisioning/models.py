"""Speech models onto a box: pinned downloads, resumable, verified, installed atomically.

A commune box must never lose a working recogniser or voice to a bad download, a wrong file
or a power cut, and must be able to take its models from a USB stick when it has no internet.
So: files come only from the pinned registry (models.toml) or an admin's explicit URL + hash,
their SHA-256 is checked before use, they are unpacked beside the destination, checked, and
swapped into place in one rename; the previous model is removed only once the new one is there.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TextIO
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

REGISTRY_PATH = Path(__file__).with_name("models.toml")
DEFAULT_DEST = Path("/var/lib/hoixa/models")
KINDS = ("vosk", "piper")
MANIFEST_NAME = "hoixa-manifest.json"
DOWNLOADS = ".downloads"
STAGING_PREFIX = ".tmp-"
ASIDE_PREFIX = ".old-"
CHUNK = 64 * 1024
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
VI_FAILED = (
    "Chưa cài được mô hình giọng nói; mô hình cũ (nếu có) vẫn dùng được. "
    "Hãy chạy lại lệnh, hoặc nhờ cán bộ kỹ thuật."
)
WHAT_TO_DO = (
    "the previous model, if any, is unchanged and still in use. Run the same command again "
    "(an interrupted download resumes), or copy the file onto a USB stick and use --from DIR"
)


class ModelError(Exception):
    """A model cannot be fetched, verified or installed; the message says why and what to do."""


@dataclass(frozen=True)
class ModelFile:
    url: str
    sha256: str = ""
    size: int = 0

    @property
    def filename(self) -> str:
        return PurePosixPath(urlsplit(self.url).path).name


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    folder: str
    files: tuple[ModelFile, ...]
    licence: str = ""
    notes: str = ""
    description: str = ""


@dataclass
class InstallResult:
    spec: ModelSpec
    path: Path
    hashes: dict[str, str]  # downloaded file name -> its SHA-256
    unverified: list[str] = field(default_factory=list)  # files installed without a pinned hash

    @property
    def config_lines(self) -> str:
        if self.spec.kind == "vosk":
            return f'[asr]\nvosk_model = "{self.path}"'
        return f'[tts]\npiper_voice = "{self.path / (self.spec.folder + ".onnx")}"'


# --- registry ---------------------------------------------------------------------------------


def load_registry(path: Path = REGISTRY_PATH) -> dict[str, ModelSpec]:
    """Every model in the registry, checked enough that a typo fails here and not on a box."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"model registry {path} unreadable: {exc}") from exc
    registry = {}
    for name, entry in doc.get("models", {}).items():
        files = tuple(
            ModelFile(f["url"], f.get("sha256", "").lower(), int(f.get("size", 0)))
            for f in entry.get("files", [])
        )
        spec = ModelSpec(
            name=name,
            kind=entry.get("kind", ""),
            folder=entry.get("folder", ""),
            files=files,
            licence=entry.get("licence", ""),
            notes=entry.get("notes", ""),
            description=entry.get("description", ""),
        )
        _check_spec(spec, where=f"{path}: models.{name}")
        registry[name] = spec
    return registry


def _check_spec(spec: ModelSpec, where: str) -> None:
    if spec.kind not in KINDS:
        raise ModelError(f"{where}: kind must be one of {', '.join(KINDS)}, not {spec.kind!r}")
    if not spec.folder or "/" in spec.folder or spec.folder.startswith("."):
        raise ModelError(f"{where}: folder must be a plain folder name, not {spec.folder!r}")
    wanted = 1 if spec.kind == "vosk" else 2
    if len(spec.files) != wanted:
        raise ModelError(
            f"{where}: a {spec.kind} model has {wanted} file(s), not {len(spec.files)}"
        )
    for f in spec.files:
        if urlsplit(f.url).scheme not in ("http", "https") or not f.filename:
            raise ModelError(f"{where}: {f.url!r} is not an http(s) URL of a file")
        if f.sha256 and not SHA256_RE.match(f.sha256):
            raise ModelError(f"{where}: sha256 {f.sha256!r} is not 64 hex digits")
    if spec.kind == "piper" and not (
        spec.files[0].filename.endswith(".onnx") and spec.files[1].filename.endswith(".onnx.json")
    ):
        raise ModelError(f"{where}: a piper voice is the .onnx file then its .onnx.json")


def lookup(registry: dict[str, ModelSpec], name: str) -> ModelSpec:
    if name not in registry:
        raise ModelError(f"no model called {name!r}; known models: {', '.join(sorted(registry))}")
    return registry[name]


def with_overrides(spec: ModelSpec, urls: list[str], sha256s: list[str]) -> ModelSpec:
    """The spec with an admin's --url/--sha256 applied (in file order), refusing mismatches.

    --url replaces the pinned URLs and then needs one --sha256 per URL (or --accept-unverified
    later); --sha256 alone supplies hashes the registry does not pin yet, and must not
    contradict one it does pin (a changed model means editing models.toml, on purpose).
    """
    sha256s = [s.strip().lower() for s in sha256s]
    for digest in sha256s:
        if not SHA256_RE.match(digest):
            raise ModelError(f"--sha256 {digest!r} is not 64 hex digits")
    count = len(spec.files)
    if urls:
        if len(urls) != count:
            raise ModelError(f"{spec.name} is {count} file(s): give --url {count} time(s)")
        if sha256s and len(sha256s) != count:
            raise ModelError(f"give one --sha256 per --url ({count})")
        files = tuple(
            ModelFile(url, sha256s[i] if sha256s else "", 0) for i, url in enumerate(urls)
        )
        new = replace(spec, files=files)
        _check_spec(new, where="--url")
        return new
    if not sha256s:
        return spec
    if len(sha256s) != count:
        raise ModelError(f"{spec.name} is {count} file(s): give --sha256 {count} time(s)")
    files = []
    for pinned, given in zip(spec.files, sha256s, strict=True):
        if pinned.sha256 and pinned.sha256 != given:
            raise ModelError(
                f"{pinned.filename}: models.toml pins {pinned.sha256}, not {given}; "
                "if the model really changed, edit models.toml"
            )
        files.append(replace(pinned, sha256=given))
    return replace(spec, files=tuple(files))


def resolve_dest(dest: str | Path | None = None) -> Path:
    """--dest, else $HOIXA_DATA_DIR/models, else /var/lib/hoixa/models."""
    if dest:
        return Path(dest).expanduser()
    if env_dir := os.environ.get("HOIXA_DATA_DIR"):
        return Path(env_dir) / "models"
    return DEFAULT_DEST


# --- fetching ---------------------------------------------------------------------------------


class Progress:
    """A tqdm bar on a terminal; a plain line per 10 % in logs (systemd, ssh without a TTY)."""

    def __init__(self, label: str, total: int | None, done: int, out: TextIO):
        self.label, self.total, self.done, self.out = label, total, done, out
        self._tenths = done * 10 // total if total else 0
        self._bar = None
        if out.isatty():
            try:
                from tqdm import tqdm

                self._bar = tqdm(
                    total=total,
                    initial=done,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=label,
                    file=out,
                )
            except ImportError:
                pass

    def update(self, count: int) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        if not self.total:
            return
        tenths = min(10, self.done * 10 // self.total)
        if tenths > self._tenths:
            self._tenths = tenths
            print(f"{self.label}: {tenths * 10} % ({self.done}/{self.total} bytes)", file=self.out)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def download(
    url: str,
    part: Path,
    *,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 2.0,
    out: TextIO = sys.stderr,
) -> bool:
    """Fetch `url` into `part`, resuming what is there; True if any attempt resumed.

    Transient failures (timeouts, cut connections, 5xx) are retried `retries` times with a
    growing pause; a 4xx other than 416 is final, since asking again will not help.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    resumed = False
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            print(f"download interrupted ({last}); retry {attempt}/{retries}", file=out)
            time.sleep(backoff * attempt)
        try:
            resumed |= _fetch_once(url, part, timeout, out)
            return resumed
        except HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 416:
                raise ModelError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
            last = exc
        except (OSError, http.client.HTTPException) as exc:
            last = exc
    raise ModelError(f"download of {url} failed after {retries + 1} attempts: {last}")


def _fetch_once(url: str, part: Path, timeout: float, out: TextIO) -> bool:
    have = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"User-Agent": "hoixa-models/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urlopen(request, timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416:  # the part is not a prefix of this file: start again
            part.unlink(missing_ok=True)
        raise
    with response:
        resuming = have > 0 and response.status == 206 and _range_start(response) == have
        if have and not resuming:
            print(f"{part.name}: the server does not resume; starting again", file=out)
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        progress = Progress(part.name.removesuffix(".part"), total, have, out)
        try:
            with part.open("ab" if resuming else "wb") as sink:
                while chunk := response.read(CHUNK):
                    sink.write(chunk)
                    progress.update(len(chunk))
                sink.flush()
                os.fsync(sink.fileno())
        finally:
            progress.close()
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"connection closed after {size} of {total} bytes")
    return resuming


def _range_start(response: http.client.HTTPResponse) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def copy_from(source_dir: Path, file: ModelFile, part: Path) -> None:
    """The offline path: take the file from a USB stick or local folder."""
    candidate = source_dir / file.filename
    if not candidate.is_file():
        raise ModelError(
            f"{candidate} not found; copy {file.filename} (downloaded from {file.url}) "
            f"into {source_dir}"
        )
    part.parent.mkdir(parents=True, exist_ok=True)
    with candidate.open("rb") as src, part.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
        dst.flush()
        os.fsync(dst.fileno())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- installing -------------------------------------------------------------------------------


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """One install at a time per models folder, so clean-up never removes another's work."""
    with (dest / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def recover(dest: Path) -> None:
    """Undo what a crash mid-install left: staging folders, and a model left renamed aside."""
    for aside in dest.glob(ASIDE_PREFIX + "*"):
        target = dest / aside.name.removeprefix(ASIDE_PREFIX)
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(aside, target)
    for staging in dest.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(staging, ignore_errors=True)


def install(
    spec: ModelSpec,
    dest: Path,
    *,
    source_dir: Path | None = None,
    accept_unverified: bool = False,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 2.0,
    out: TextIO = sys.stderr,
) -> InstallResult:
    """Fetch, verify, unpack, check and swap `spec` into `dest/spec.folder`.

    Raises ModelError, leaving any previous model exactly as it was.
    """
    unpinned = [f.filename for f in spec.files if not f.sha256]
    if unpinned and not accept_unverified:
        raise ModelError(
            f"{spec.name}: no SHA-256 is pinned for {', '.join(unpinned)}, so nothing was "
            "downloaded. Give --sha256 HEX (from a source you trust), or --accept-unverified "
            "to install it anyway and then pin the printed hash in models.toml"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with _locked(dest):
        recover(dest)
        parts, hashes = [], {}
        for file in spec.files:
            part = dest / DOWNLOADS / f"{file.filename}.part"
            hashes[file.filename] = _obtain(file, part, source_dir, timeout, retries, backoff, out)
            parts.append(part)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{spec.folder}-", dir=dest))
        try:
            model = staging / "model"
            if spec.kind == "vosk":
                _unpack_vosk(parts[0], staging, model)
            else:
                _place_piper(parts, model, spec.folder)
            check_content(spec.kind, model, spec.folder)
            _write_manifest(model, spec, hashes)
            _sync_tree(model)
            _swap_into_place(model, dest / spec.folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for part in parts:
            part.unlink(missing_ok=True)
    return InstallResult(spec, dest / spec.folder, hashes, unpinned)


def _obtain(
    file: ModelFile,
    part: Path,
    source_dir: Path | None,
    timeout: float,
    retries: int,
    backoff: float,
    out: TextIO,
) -> str:
    """The file at `part`, its SHA-256 checked against the pin; returns the hash."""
    if source_dir is not None:
        copy_from(source_dir, file, part)
        return _check_hash(part, file, out)
    if file.sha256 and part.exists() and sha256_of(part) == file.sha256:
        return file.sha256  # already fetched by an earlier run that stopped later on
    resumed = download(file.url, part, timeout=timeout, retries=retries, backoff=backoff, out=out)
    if resumed and file.sha256 and sha256_of(part) != file.sha256:
        print(f"{file.filename}: resumed file does not match; downloading it again", file=out)
        part.unlink()
        download(file.url, part, timeout=timeout, retries=retries, backoff=backoff, out=out)
    return _check_hash(part, file, out)


def _check_hash(part: Path, file: ModelFile, out: TextIO) -> str:
    actual = sha256_of(part)
    if file.sha256 and actual != file.sha256:
        part.unlink()
        raise ModelError(
            f"{file.filename}: SHA-256 is {actual} but {file.sha256} was expected (corrupted "
            "or not the pinned file); it was deleted and nothing was installed"
        )
    if not file.sha256:
        print(f"{file.filename}: UNVERIFIED, its SHA-256 is {actual}", file=out)
    return actual


def _unpack_vosk(archive: Path, staging: Path, model: Path) -> None:
    unpacked = staging / "unpacked"
    try:
        with zipfile.ZipFile(archive) as zf:
            damaged = zf.testzip()
            if damaged is not None:
                raise ModelError(f"{archive.name}: {damaged} fails its CRC check; {WHAT_TO_DO}")
            zf.extractall(unpacked)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        archive.unlink(missing_ok=True)
        raise ModelError(
            f"{archive.name} is not a complete zip file ({exc}); it was deleted; {WHAT_TO_DO}"
        ) from exc
    entries = [p for p in unpacked.iterdir() if not p.name.startswith("__MACOSX")]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
    os.rename(root, model)


def _place_piper(parts: list[Path], model: Path, voice: str) -> None:
    model.mkdir()
    shutil.copyfile(parts[0], model / f"{voice}.onnx")
    shutil.copyfile(parts[1], model / f"{voice}.onnx.json")


def check_content(kind: str, model: Path, voice: str) -> None:
    """Refuse a folder the box could not load, before it replaces anything."""
    if kind == "vosk":
        has_am = (model / "am" / "final.mdl").is_file() or (model / "final.mdl").is_file()
        has_rest = (model / "conf").is_dir() or (model / "graph").is_dir()
        if not (has_am and has_rest):
            raise ModelError(
                "the zip does not hold a Vosk model (am/final.mdl and conf/ or graph/ "
                f"are missing); {WHAT_TO_DO}"
            )
        return
    onnx, config = model / f"{voice}.onnx", model / f"{voice}.onnx.json"
    if onnx.stat().st_size == 0:
        raise ModelError(f"{onnx.name} is empty; {WHAT_TO_DO}")
    try:
        rate = json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{config.name} is not a Piper voice configuration with audio.sample_rate ({exc}); "
            f"{WHAT_TO_DO}"
        ) from exc
    if not isinstance(rate, int) or rate <= 0:
        raise ModelError(f"{config.name}: sample rate {rate!r} is not a positive integer")


def _installed_files(model: Path) -> dict[str, Path]:
    return {
        p.relative_to(model).as_posix(): p
        for p in sorted(model.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def _write_manifest(model: Path, spec: ModelSpec, hashes: dict[str, str]) -> None:
    manifest = {
        "name": spec.name,
        "kind": spec.kind,
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": [
            {"url": f.url, "sha256": hashes[f.filename], "pinned": bool(f.sha256)}
            for f in spec.files
        ],
        "files": {rel: sha256_of(path) for rel, path in _installed_files(model).items()},
    }
    (model / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _sync_tree(model: Path) -> None:
    """Flush the new files to the card before they replace the old ones (power cuts)."""
    for path in [*model.rglob("*"), model]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _swap_into_place(new: Path, target: Path) -> None:
    """Put `new` at `target`; whatever was there is deleted only after `new` is in place."""
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the previous model
    else:  # a crash between these renames is undone by recover() on the next run
        aside = target.with_name(ASIDE_PREFIX + target.name)
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(target, aside)
        os.rename(new, target)
        shutil.rmtree(aside)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- checking what is installed -----------------------------------------------------------------


def verify(spec: ModelSpec, dest: Path) -> list[str]:
    """Problems with the installed model (missing, modified or unexpected files); [] if intact."""
    model = dest / spec.folder
    manifest_path = model / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"{model}: not installed by `hoixa models install` (no {MANIFEST_NAME})"]
    try:
        recorded: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError) as exc:
        return [f"{manifest_path}: unreadable ({exc})"]
    present = _installed_files(model)
    problems = [f"missing: {rel}" for rel in recorded if rel not in present]
    problems += [
        f"modified: {rel}"
        for rel, path in present.items()
        if rel in recorded and sha256_of(path) != recorded[rel]
    ]
    problems += [f"unexpected file: {rel}" for rel in present if rel not in recorded]
    return problems


def installed(spec: ModelSpec, dest: Path) -> bool:
    return (dest / spec.folder / MANIFEST_NAME).is_file()


def describe_install(result: InstallResult) -> str:
    """What the admin reads after a successful install: where, what to configure, what to pin."""
    lines = [
        f"installed {result.spec.name} ({result.spec.kind}) in {result.path}",
        f"licence: {result.spec.licence or 'to be checked'}",
        "Put these lines in /etc/hoixa/device.toml:",
        result.config_lines,
    ]
    if result.unverified:
        lines.append(
            "WARNING: installed WITHOUT a pinned SHA-256. Check these hashes against a trusted "
            f"source and pin them in models.toml under [models.{result.spec.name}]:"
        )
        lines += [f"  {name}: sha256 = {result.hashes[name]}" for name in result.unverified]
    lines.append(f"Đã cài xong mô hình {result.spec.name}.")
    return "\n".join(lines)
