"""`hoixa provision …` and `hoixa server init`: the commands a provincial technician types.

Server side (as root on the central server, which holds /etc/hoixa/server.toml):
    hoixa provision units --search "tân phú"        find the commune's official code
    hoixa provision enrol --commune 26734 --counter-phone "0277 3851 234" --out /media/usb
    hoixa provision list
    hoixa provision replace hx-79-26734-01 --out /media/usb
    hoixa provision retire hx-79-26734-01
Box side (as root on the box):
    hoixa provision apply /media/usb/hx-79-26734-01
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 1


def parse_setting(text: str) -> tuple[str, str, Any]:
    """`gpio.button_pin=27` → ("gpio", "button_pin", 27); values are TOML, else a string."""
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not section or not name:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write SECTION.KEY=VALUE, e.g. gpio.button_pin=27"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, name, value


def _local_settings(args: argparse.Namespace):
    from hoixa.provisioning.bundle import LocalSettings

    settings: dict[str, dict[str, Any]] = {}
    for section, name, value in args.set or []:
        settings.setdefault(section, {})[name] = value
    return LocalSettings(args.counter_phone or "", args.counter_name or "", settings)


def _registry(args: argparse.Namespace):
    from hoixa.provisioning.enrolment import FleetRegistry
    from hoixa.server.config import load_server_config

    return FleetRegistry(load_server_config(args.config))


def _print_box(box, bundle: Path, verb: str) -> None:
    print(f"{verb} {box.device_id}: {box.commune_name} (xã {box.commune}, tỉnh {box.province})")
    print(f"gói cấu hình: {bundle}")
    print("  chép thư mục này sang máy (USB), rồi trên máy chạy:")
    print(f"  sudo /opt/hoixa/venv/bin/hoixa provision apply /đường/dẫn/{box.device_id}")
    print("  thư mục có mật khẩu của máy: xóa sau khi cài.")


def cmd_units(args: argparse.Namespace) -> int:
    from hoixa.provisioning.admin_units import official_units

    units = official_units()
    if args.search:
        for c in units.search(args.search, args.province, limit=args.limit):
            print(f"{c.province_code}  {c.code}  {c.name}, {c.province_name}")
    elif args.province:
        province = units.province(args.province)
        for c in province.communes:
            print(f"{c.province_code}  {c.code}  {c.name}")
    else:
        for p in units.provinces:
            print(f"{p.code}  {p.name}  ({len(p.communes)} xã, phường)")
    print(f"(danh mục đơn vị hành chính {units.data_version})", file=sys.stderr)
    return EXIT_OK


def cmd_enrol(args: argparse.Namespace) -> int:
    registry = _registry(args)
    box, bundle = registry.enrol(args.commune, Path(args.out), _local_settings(args))
    _print_box(box, bundle, "đã đăng ký máy")
    return EXIT_OK


def cmd_replace(args: argparse.Namespace) -> int:
    registry = _registry(args)
    box, bundle = registry.replace(args.device_id, Path(args.out), _local_settings(args))
    _print_box(box, bundle, "đã cấp mật khẩu mới cho")
    print("  máy cũ không còn đăng nhập được.")
    return EXIT_OK


def cmd_retire(args: argparse.Namespace) -> int:
    revoked = _registry(args).retire(args.device_id)
    if revoked:
        print(f"đã thu hồi {args.device_id}: máy không còn đăng nhập được; lịch sử được giữ lại.")
    else:
        print(f"{args.device_id} đã thu hồi từ trước; đánh dấu ngừng dùng.")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    rows = _registry(args).boxes(args.province)
    for r in rows:
        if r.retired_at:
            state = "ngừng dùng"
        else:
            state = "hoạt động" if r.can_log_in else "chưa có tài khoản"
        seen = r.last_seen_at.strftime("%Y-%m-%d %H:%M") if r.last_seen_at else "chưa kết nối"
        print(f"{r.device_id}  {r.name or '?'}  {state}  lần cuối: {seen}")
    print(f"{len(rows)} máy", file=sys.stderr)
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from hoixa.provisioning.bundle import apply_bundle

    written = apply_bundle(Path(args.bundle), Path(args.etc))
    for path in written:
        print(f"đã ghi {path}")
    print("tiếp theo: sudo systemctl restart hoixa-device, rồi chạy tự kiểm tra:")
    print(f"  sudo -u hoixa /opt/hoixa/venv/bin/hoixa device selftest --config {written[-1]}")
    return EXIT_OK


def cmd_server_init(args: argparse.Namespace) -> int:
    from hoixa.provisioning.server_init import InitOptions, init_server

    options = InitOptions(
        public_host=args.public_host or "",
        etc_dir=Path(args.etc_dir),
        mosquitto_dir=Path(args.mosquitto_dir),
        data_dir=Path(args.data_dir),
        database=args.database or "",
        local_port=args.local_port,
        public_port=args.public_port,
        reload=args.reload,
    )
    try:
        report = init_server(Path(args.config), options)
    except ValueError as exc:
        print(f"server not initialised: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in report.done or ["nothing to do: everything is already in place"]:
        print(line)
    if report.broker_config_changed:
        print("the broker's listeners changed: restart it (systemctl restart mosquitto)")
    return EXIT_OK


def add_provision_commands(sub: argparse._SubParsersAction) -> None:
    from hoixa.server.config import DEFAULT_SERVER_CONFIG

    prov = sub.add_parser("provision", help="enrol, replace, retire boxes").add_subparsers(
        dest="provision_command", required=True
    )

    def on_server(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default=str(DEFAULT_SERVER_CONFIG), help="server.toml")
        return p

    def with_local(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--out", required=True, help="folder (e.g. a USB stick) for the bundle")
        p.add_argument("--counter-phone", help="phone number of the one-stop counter")
        p.add_argument("--counter-name", help="name of the one-stop counter")
        p.add_argument(
            "--set",
            action="append",
            type=parse_setting,
            metavar="SECTION.KEY=VALUE",
            help="any box setting, e.g. gpio.button_pin=27, audio.input_device=\"USB\"",
        )
        return p

    p = prov.add_parser("units", help="official province and commune codes")
    p.add_argument("--province", help="2-digit province code")
    p.add_argument("--search", help="part of a commune's name, tone marks optional")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_units)
    p = with_local(on_server(prov.add_parser("enrol", help="enrol a new box for a commune")))
    p.add_argument("--commune", required=True, help="5-digit commune code (see `units`)")
    p.set_defaults(func=cmd_enrol)
    p = with_local(on_server(prov.add_parser("replace", help="new credentials for a box")))
    p.add_argument("device_id")
    p.set_defaults(func=cmd_replace)
    p = on_server(prov.add_parser("retire", help="revoke a box's credentials"))
    p.add_argument("device_id")
    p.set_defaults(func=cmd_retire)
    p = on_server(prov.add_parser("list", help="enrolled and retired boxes"))
    p.add_argument("--province")
    p.set_defaults(func=cmd_list)
    p = prov.add_parser("apply", help="(on the box) install an enrolment bundle")
    p.add_argument("bundle")
    p.add_argument("--etc", default="/etc/hoixa", help="configuration folder of the box")
    p.set_defaults(func=cmd_apply)


def add_server_init_command(server: argparse._SubParsersAction) -> None:
    from hoixa.server.config import DEFAULT_SERVER_CONFIG

    p = server.add_parser("init", help="make the server's keys, broker accounts and settings")
    p.add_argument("--config", default=str(DEFAULT_SERVER_CONFIG))
    p.add_argument("--public-host", help="the name boxes connect to (first run)")
    p.add_argument("--etc-dir", default="/etc/hoixa")
    p.add_argument("--mosquitto-dir", default="/etc/mosquitto")
    p.add_argument("--data-dir", default="/var/lib/hoixa-server")
    p.add_argument("--database", help="database URL (default: SQLite in --data-dir)")
    p.add_argument("--local-port", type=int, default=1883)
    p.add_argument("--public-port", type=int, default=8883)
    p.add_argument("--reload", default="systemctl reload mosquitto", help="how to reload it")
    p.set_defaults(func=cmd_server_init)


def errors_handled() -> tuple[type[BaseException], ...]:
    """The failures these commands explain in one line instead of a traceback."""
    from hoixa.provisioning.admin_units import UnknownUnit
    from hoixa.provisioning.bundle import BundleError
    from hoixa.provisioning.enrolment import EnrolmentError
    from hoixa.server.broker_auth import AccountError
    from hoixa.server.config import ServerConfigError

    return (UnknownUnit, BundleError, EnrolmentError, AccountError, ServerConfigError)
