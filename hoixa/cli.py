"""The `hoixa` command: one entry point, one subcommand per job.

Each subcommand imports what it needs when it runs, so `hoixa match` on a box does not load
server libraries and a broken optional part cannot stop the others.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from hoixa.provisioning.cli import add_provision_commands, add_server_init_command
from hoixa.provisioning.cli import errors_handled as provisioning_errors

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _load_catalogue(args: argparse.Namespace):
    """The catalogue named with --catalogue, else the box's installed one, else the default."""
    from hoixa.contract import catalogue as cat

    if args.catalogue:
        return cat.load(args.catalogue)
    from hoixa.device.catalogue_store import open_catalogue
    from hoixa.device.config import load_config

    catalogue, _ = open_catalogue(load_config(args.config).data_dir)
    return catalogue


def cmd_match(args: argparse.Namespace) -> int:
    from hoixa.device.matcher import Matcher

    matcher = Matcher(_load_catalogue(args))
    queries = args.query or (line.strip() for line in sys.stdin if line.strip())
    for query in queries:
        start = time.perf_counter()
        decision = matcher.match(query)
        elapsed = (time.perf_counter() - start) * 1000
        out = decision.to_json() | {"elapsed_ms": round(elapsed, 3)}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from hoixa.device.config import load_config
    from hoixa.device.dialogue import Dialogue
    from hoixa.device.matcher import Matcher

    config = load_config(args.config)
    matcher = Matcher(_load_catalogue(args))
    print("(Gõ câu hỏi rồi Enter. Ctrl-D để thoát. Type a question, Enter; Ctrl-D quits.)")
    while True:
        dialogue = Dialogue(matcher, config)
        reply = dialogue.start()
        while True:
            pace = " [chậm]" if reply.slow else ""
            print(f"\nHỏi Xã{pace}: {reply.text}\n")
            if reply.ended:
                break
            try:
                heard = input("Bạn: ")
            except EOFError:
                dialogue.abandon()
                print()
                return EXIT_OK
            reply = dialogue.handle(heard)
        if args.once:
            return EXIT_OK
        print("— — — (người tiếp theo / next person) — — —")


def cmd_catalogue_validate(args: argparse.Namespace) -> int:
    from hoixa.contract import catalogue as cat

    try:
        doc = cat.load(args.file)
    except cat.CatalogueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    print(
        f"{args.file}: valid, version {doc['version']}, scope {doc['scope']}, "
        f"{len(doc['procedures'])} procedures"
    )
    return EXIT_OK


def cmd_catalogue_import_portal(args: argparse.Namespace) -> int:
    from hoixa.contract import catalogue as cat
    from hoixa.server.portal_import import import_portal_dir

    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"{directory}: not a folder", file=sys.stderr)
        return EXIT_USAGE
    report = import_portal_dir(directory, commune_only=args.commune_only, version=args.version)
    for failure in report.failures:
        print(
            f"skipped {failure.path} ({failure.code or 'no code'}): {failure.reason}",
            file=sys.stderr,
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    Path(args.out).write_text(cat.dumps(report.catalogue), encoding="utf-8")
    print(
        f"imported {report.imported} procedures, skipped {len(report.failures)}; wrote {args.out}"
    )
    return EXIT_OK


def cmd_catalogue_install(args: argparse.Namespace) -> int:
    from hoixa.contract import catalogue as cat
    from hoixa.device.catalogue_store import CatalogueStore, StaleCatalogueError
    from hoixa.device.config import load_config

    store = CatalogueStore(load_config(args.config).data_dir / "catalogue")
    try:
        pointer = store.install(cat.load(args.file), allow_older=args.allow_older)
    except (cat.CatalogueError, StaleCatalogueError) as exc:
        print(f"not installed, the catalogue in use is unchanged: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"installed catalogue version {pointer.version} ({pointer.scope}) in {store.folder}")
    return EXIT_OK


def cmd_catalogue_rollback(args: argparse.Namespace) -> int:
    from hoixa.device.catalogue_store import CatalogueStore, StoreError
    from hoixa.device.config import load_config

    store = CatalogueStore(load_config(args.config).data_dir / "catalogue")
    try:
        pointer = store.rollback()
    except (StoreError, OSError, ValueError) as exc:
        print(f"rollback refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"catalogue version {pointer.version} is current again")
    return EXIT_OK


def cmd_catalogue_status(args: argparse.Namespace) -> int:
    from hoixa.device.catalogue_store import open_catalogue
    from hoixa.device.config import load_config

    catalogue, origin = open_catalogue(load_config(args.config).data_dir)
    print(
        json.dumps(
            {
                "origin": origin,
                "version": catalogue["version"],
                "scope": catalogue["scope"],
                "issued_at": catalogue["issued_at"],
                "procedures": len(catalogue["procedures"]),
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    return EXIT_OK


def cmd_catalogue_vocabulary(args: argparse.Namespace) -> int:
    from hoixa.device import vocabulary

    catalogue = _load_catalogue(args)
    items = vocabulary.phrases(catalogue) if args.phrases else vocabulary.vocabulary(catalogue)
    print("\n".join(items))
    return EXIT_OK


def cmd_device_ask(args: argparse.Namespace) -> int:
    """One full turn from a recording, through the same pipeline as the box."""
    from hoixa.contract import catalogue as cat
    from hoixa.device.assistant import Assistant
    from hoixa.device.config import load_config
    from hoixa.device.recording import RecordingError, chunks, read_wav, write_wav

    config = load_config(args.config)
    try:
        pcm = read_wav(args.question)
    except RecordingError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    assistant = Assistant.load(config, cat.load(args.catalogue) if args.catalogue else None)
    transcript, reply, audio, timings = assistant.answer_recording(chunks(pcm))
    rate = audio[0].sample_rate if audio else assistant.synthesizer.sample_rate
    if args.out:
        write_wav(args.out, b"".join(s.pcm for s in audio), rate)
    proc = assistant.matcher.procedure(reply.procedure) if reply.procedure else None
    result = {
        "transcript": transcript.text,
        "confidence": round(transcript.confidence, 3),
        "action": reply.action,
        "procedure": {"code": proc["code"], "name": proc["name"]} if proc else None,
        "category": reply.category,
        "answer_text": reply.text,
        "answer_seconds": round(sum(s.seconds for s in audio), 2),
        "asr": assistant.recognizer.name,
        "tts": assistant.synthesizer.name,
        **timings.__dict__,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"nghe được: {transcript.text or '(không nghe rõ)'}")
        name = f" {proc['code']} {proc['name']}" if proc else ""
        print(f"quyết định: {reply.action}{name} {reply.category or ''}".rstrip())
        print(f"trả lời: {reply.text}")
        print("thời gian (ms): " + ", ".join(f"{k} {v}" for k, v in timings.__dict__.items()))
    return EXIT_OK


def cmd_device_run(args: argparse.Namespace) -> int:
    """The real main loop. Off a Raspberry Pi, the Enter key is the talk button."""
    import signal
    import threading

    from hoixa.contract import catalogue as cat
    from hoixa.device.box import build_box
    from hoixa.device.config import load_config

    config = load_config(args.config)
    box, mock_pins = build_box(config, cat.load(args.catalogue) if args.catalogue else None)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if mock_pins:
        how = (
            "Enter: bấm giữ nút (nói), Enter lần nữa: thả nút"
            if config.gpio.talk_mode == "hold"
            else "Enter: bấm nút một lần"
        )
        print(f"Không có GPIO: dùng bàn phím làm nút nói. {how}. Ctrl-C để dừng.", flush=True)
    assistant = box.assistant
    print(
        f"Hỏi Xã sẵn sàng: danh mục phiên bản {assistant.catalogue_version}, "
        f"nhận dạng {assistant.recognizer.name}, giọng {assistant.synthesizer.name}, "
        f"máy chủ {config.fleet.broker_host or 'không cấu hình'}.",
        flush=True,
    )
    box.run(stop)
    return EXIT_OK


def cmd_device_link(args: argparse.Namespace) -> int:
    """Only the link to the server, no audio: for a technician checking a box's enrolment,
    and for a simulated box on a development machine. Prints each catalogue it installs."""
    import signal
    import threading

    from hoixa.device.config import load_config
    from hoixa.device.fleet.link import open_link

    config = load_config(args.config)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}

    def applied(doc) -> None:
        print(
            f"đã cài danh mục {doc['scope']} phiên bản {doc['version']} "
            f"({len(doc['procedures'])} thủ tục)",
            flush=True,
        )

    link = open_link(config, on_applied=applied)
    if link is None:
        print(f"{args.config}: [fleet] broker_host trống: không nối về máy chủ", file=sys.stderr)
        return EXIT_INVALID
    link.start()
    fleet = config.fleet
    print(f"{fleet.device_id}: nối tới {fleet.broker_host}:{fleet.broker_port} …", flush=True)
    was_connected = False
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while not stop.wait(0.2):
            if link.connected != was_connected:
                was_connected = link.connected
                print("đã kết nối" if was_connected else "mất kết nối, đang thử lại", flush=True)
            if deadline and time.monotonic() > deadline:
                break
    finally:
        link.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK if was_connected else EXIT_INVALID


def cmd_device_selftest(args: argparse.Namespace) -> int:
    """Check lights, speaker, button, microphone, recogniser and server; 1 if any failed."""
    from hoixa.device.selftest import selftest_command

    return selftest_command(
        args.config, skip_button=args.skip_button, as_json=args.json, phrase=args.phrase
    )


def _models_dest(args: argparse.Namespace):
    from hoixa.provisioning import models

    return models.resolve_dest(args.dest)


def cmd_models_install(args: argparse.Namespace) -> int:
    """Fetch (or take --from a folder), verify, and atomically install a speech model."""
    from hoixa.provisioning import models

    try:
        spec = models.lookup(models.load_registry(), args.name)
        spec = models.with_overrides(spec, args.url or [], args.sha256 or [])
        result = models.install(
            spec,
            _models_dest(args),
            source_dir=Path(args.source) if args.source else None,
            accept_unverified=args.accept_unverified,
            timeout=args.timeout,
            retries=args.retries,
        )
    except (models.ModelError, OSError) as exc:
        print(f"not installed: {exc}\n{models.VI_FAILED}", file=sys.stderr)
        return EXIT_INVALID
    print(models.describe_install(result))
    return EXIT_OK


def cmd_models_list(args: argparse.Namespace) -> int:
    from hoixa.provisioning import models

    dest = _models_dest(args)
    for spec in models.load_registry().values():
        pinned = "pinned" if all(f.sha256 for f in spec.files) else "NOT pinned"
        where = dest / spec.folder if models.installed(spec, dest) else "not installed"
        print(f"{spec.name}\t{spec.kind}\t{pinned}\t{where}\tlicence: {spec.licence}")
    return EXIT_OK


def cmd_models_verify(args: argparse.Namespace) -> int:
    from hoixa.provisioning import models

    try:
        spec = models.lookup(models.load_registry(), args.name)
    except models.ModelError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    problems = models.verify(spec, _models_dest(args))
    for problem in problems:
        print(f"{spec.name}: {problem}", file=sys.stderr)
    if problems:
        print(f"reinstall with `hoixa models install {spec.name}`", file=sys.stderr)
        return EXIT_INVALID
    print(f"{spec.name}: every installed file matches its recorded SHA-256")
    return EXIT_OK


def cmd_server_add_user(args: argparse.Namespace) -> int:
    from hoixa.server.web.run import add_user_command

    _server_settings(args)
    try:
        add_user_command(
            args.database,
            Path(args.data_dir),
            args.username,
            args.role,
            args.province,
            args.commune,
        )
    except ValueError as exc:
        print(f"user not added: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"user {args.username} added ({args.role})")
    return EXIT_OK


def _server_settings(args: argparse.Namespace) -> None:
    """Fill the options not given on the command line from --config (server.toml), then from
    the built-in defaults, so the systemd unit needs only `--config`."""
    defaults = {
        "data_dir": os.environ.get("HOIXA_SERVER_DATA", "/var/lib/hoixa-server"),
        "broker": "127.0.0.1:1883",
        "listen": "127.0.0.1:8080",
    }
    if args.config:
        from hoixa.server.config import load_server_config

        cfg = load_server_config(args.config)
        b = cfg.broker
        defaults |= {
            "data_dir": cfg.server.data_dir,
            "database": cfg.server.database or None,
            "broker": f"{b.host}:{b.port}",
            "listen": cfg.server.listen,
            "username": b.username,
            "password_file": b.password_file,
            "ca_file": b.ca_file or None,
            "signing_key": cfg.keys.signing_key,
            "ingest": cfg.server.ingest,
        }
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


def cmd_server_run(args: argparse.Namespace) -> int:
    from hoixa.server.web.run import run

    _server_settings(args)
    run(
        database=args.database,
        data_dir=Path(args.data_dir),
        broker=args.broker,
        listen=args.listen,
        broker_username=args.username,
        broker_password_file=args.password_file,
        ca_file=args.ca_file,
        signing_key=args.signing_key,
        ingest=args.ingest if args.ingest is not None else True,
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hoixa", description="Hỏi Xã: hỏi đáp thủ tục hành chính")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_catalogue(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--catalogue", help="catalogue JSON file (default: the box's own)")
        p.add_argument(
            "--config", help="device configuration TOML (default /etc/hoixa/device.toml)"
        )
        return p

    p = with_catalogue(sub.add_parser("match", help="print the matcher's decision as JSON"))
    p.add_argument("query", nargs="*", help="questions (default: one per line on stdin)")
    p.set_defaults(func=cmd_match)

    p = with_catalogue(sub.add_parser("chat", help="talk to the box in the terminal"))
    p.add_argument("--once", action="store_true", help="stop after one conversation")
    p.set_defaults(func=cmd_chat)

    cat = sub.add_parser("catalogue", help="check, import, install catalogues").add_subparsers(
        dest="catalogue_command", required=True
    )
    p = cat.add_parser("validate", help="check a catalogue file and say what is wrong, where")
    p.add_argument("file")
    p.set_defaults(func=cmd_catalogue_validate)
    p = cat.add_parser("import-portal", help="turn national-portal JSON records into a catalogue")
    p.add_argument("dir")
    p.add_argument("--out", required=True)
    p.add_argument("--commune-only", action="store_true", help="only 'Cấp xã' procedures")
    p.add_argument("--version", type=int, default=1, help="catalogue version to write")
    p.set_defaults(func=cmd_catalogue_import_portal)
    p = cat.add_parser("install", help="install a catalogue file on this box (atomic)")
    p.add_argument("file")
    p.add_argument("--config")
    p.add_argument("--allow-older", action="store_true", help="allow a version not newer")
    p.set_defaults(func=cmd_catalogue_install)
    p = cat.add_parser("rollback", help="make the previous catalogue current again")
    p.add_argument("--config")
    p.set_defaults(func=cmd_catalogue_rollback)
    p = cat.add_parser("status", help="which catalogue this box answers from")
    p.add_argument("--config")
    p.set_defaults(func=cmd_catalogue_status)
    device = sub.add_parser("device", help="the voice terminal").add_subparsers(
        dest="device_command", required=True
    )
    p = with_catalogue(device.add_parser("run", help="the voice terminal's main loop"))
    p.set_defaults(func=cmd_device_run)
    p = device.add_parser("link", help="only the link to the server (no audio), Ctrl-C stops")
    p.add_argument("--config", default="/etc/hoixa/device.toml")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    p.set_defaults(func=cmd_device_link)
    p = with_catalogue(device.add_parser("ask", help="answer a recorded question (WAV)"))
    p.add_argument("question", help="WAV file with the spoken question")
    p.add_argument("--out", help="write the spoken answer to this WAV file")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=cmd_device_ask)
    p = device.add_parser("selftest", help="check the box's parts, in Vietnamese, for staff")
    p.add_argument("--config", help="device configuration TOML (default /etc/hoixa/device.toml)")
    p.add_argument("--skip-button", action="store_true", help="do not wait for a button press")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--phrase", default="đăng ký khai sinh", help="what the person is asked to say")
    p.set_defaults(func=cmd_device_selftest)

    models = sub.add_parser("models", help="speech models (Vosk, Piper)").add_subparsers(
        dest="models_command", required=True
    )

    def with_dest(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--dest", help="models folder (default $HOIXA_DATA_DIR/models or /var/lib/hoixa/models)"
        )
        return p

    p = with_dest(models.add_parser("install", help="download or copy, verify, install a model"))
    p.add_argument("name", help="model name from the registry, e.g. vosk-vi, piper-vi")
    p.add_argument("--from", dest="source", help="take the file(s) from this folder (USB stick)")
    p.add_argument("--url", action="append", help="download from here instead (one per file)")
    p.add_argument("--sha256", action="append", help="expected SHA-256 (one per file)")
    p.add_argument(
        "--accept-unverified", action="store_true", help="install without a pinned SHA-256"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout, seconds")
    p.add_argument("--retries", type=int, default=4, help="retries after a failed download")
    p.set_defaults(func=cmd_models_install)
    p = with_dest(models.add_parser("list", help="known models, pinned or not, installed or not"))
    p.set_defaults(func=cmd_models_list)
    p = with_dest(models.add_parser("verify", help="check installed files against the manifest"))
    p.add_argument("name")
    p.set_defaults(func=cmd_models_verify)

    p = with_catalogue(cat.add_parser("vocabulary", help="words (or --phrases) for the recogniser"))
    p.add_argument("--phrases", action="store_true")
    p.set_defaults(func=cmd_catalogue_vocabulary)

    server = sub.add_parser("server", help="the central server").add_subparsers(
        dest="server_command", required=True
    )

    def with_database(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help="server.toml: the defaults for every option below")
        p.add_argument("--database", help="database URL (default: SQLite in --data-dir)")
        p.add_argument(
            "--data-dir",
            help="server data folder (default $HOIXA_SERVER_DATA or /var/lib/hoixa-server)",
        )
        return p

    p = with_database(server.add_parser("run", help="ingestion worker and web console"))
    p.add_argument("--broker", help="MQTT broker HOST:PORT (default 127.0.0.1:1883)")
    p.add_argument("--listen", help="console HOST:PORT (default 127.0.0.1:8080)")
    p.add_argument("--username", help="broker account of the server")
    p.add_argument("--password-file", help="file with the broker password")
    p.add_argument("--ca-file", help="CA certificate of the broker (TLS)")
    p.add_argument("--signing-key", help="central private key (PEM) to publish catalogues")
    p.add_argument(
        "--no-ingest",
        dest="ingest",
        action="store_false",
        default=None,
        help="console only: hoixa-ingest@ workers store the boxes' messages",
    )
    p.set_defaults(func=cmd_server_run)
    p = with_database(server.add_parser("add-user", help="add a console account"))
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["central", "province", "commune"])
    p.add_argument("--province", help="2-digit province code")
    p.add_argument("--commune", help="5-digit commune code")
    p.set_defaults(func=cmd_server_add_user)
    add_server_init_command(server)
    add_provision_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from hoixa.contract.catalogue import CatalogueError
    from hoixa.device.config import ConfigError

    try:
        return args.func(args)
    except (CatalogueError, ConfigError, *provisioning_errors()) as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
