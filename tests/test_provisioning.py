"""Provisioning end to end on real parts: `hoixa server init` makes keys, accounts, a CA and a
Mosquitto drop-in that a real Mosquitto runs with; a box enrolled from the official commune
list gets a bundle, applies it, connects over TLS with its own account, reports, receives a
catalogue signed with the server's key; replacing it locks the old hardware out; retiring it
locks it out and keeps its history."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("vietnam_provinces")

from conftest import make_catalogue, make_procedure
from hoixa import cli
from hoixa.contract import signing, topics
from hoixa.device.config import load_config
from hoixa.device.fleet.link import open_link
from hoixa.provisioning.admin_units import UnknownUnit, official_units
from hoixa.provisioning.bundle import BundleError, LocalSettings, apply_bundle
from hoixa.provisioning.enrolment import EnrolmentError, FleetRegistry
from hoixa.provisioning.server_init import InitOptions, init_server
from hoixa.server import db
from hoixa.server.catalogue_publisher import publish_catalogue
from hoixa.server.config import ServerConfigError, load_server_config
from hoixa.server.mosquitto import Mosquitto, free_port

COMMUNE = "25549"  # Xã Tân Phú, Tây Ninh (official list after the 2025 reform)
PROVINCE = "80"


def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- the official list --------------------------------------------------------------------


def test_the_official_list_is_the_one_after_the_2025_reform():
    units = official_units()
    assert len(units.provinces) == 34
    assert sum(len(p.communes) for p in units.provinces) == 3321
    commune = units.commune(COMMUNE)
    assert (commune.name, commune.province_code) == ("Xã Tân Phú", PROVINCE)
    assert units.commune(int(COMMUNE)).code == COMMUNE  # codes are padded however typed
    assert units.province("1").code == "01"


def test_search_ignores_tone_marks_and_codes_are_checked():
    units = official_units()
    found = units.search("tan phu", province=PROVINCE)
    assert any(c.code == COMMUNE for c in found)
    assert all(c.province_code == PROVINCE for c in found)
    with pytest.raises(UnknownUnit, match="không thuộc tỉnh 79"):
        units.commune(COMMUNE, province="79")
    with pytest.raises(UnknownUnit, match="không có trong danh mục"):
        units.commune("26734")  # a pre-2025 commune code that no longer exists
    with pytest.raises(UnknownUnit, match="5 chữ số"):
        units.commune("12a45")


# -- the server and a real broker --------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """A server initialised by `init_server` and a real Mosquitto running its drop-in."""
    local_port, public_port = free_port(), free_port()
    broker_folder = tmp_path / "broker"
    options = InitOptions(
        public_host="localhost",
        etc_dir=tmp_path / "etc",
        mosquitto_dir=tmp_path / "mosquitto",
        data_dir=tmp_path / "server-data",
        local_port=local_port,
        public_port=public_port,
        reload=f"pid:{broker_folder / 'pid'}",
    )
    config_path = tmp_path / "etc" / "server.toml"
    report = init_server(config_path, options)
    broker = Mosquitto(
        broker_folder, port=local_port, include_dir=tmp_path / "mosquitto" / "conf.d"
    ).start()
    (broker_folder / "pid").write_text(str(broker.pid))
    yield load_server_config(config_path), broker, report
    broker.stop()


def try_login(port: int, username: str, password: str, ca_file: str | None) -> int:
    """The CONNACK reason code of one login attempt (0 = accepted)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    if ca_file:
        client.tls_set(ca_certs=ca_file)
    codes: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: codes.append(rc.value)
    client.on_disconnect = lambda c, u, f, rc, p: codes.append(-2)  # dropped, no CONNACK
    try:
        client.connect("localhost", port)
    except OSError:
        return -1
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not codes and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0] if codes else -3  # -3: the broker never answered (not a login)


def test_init_makes_everything_once_and_the_second_run_changes_nothing(tmp_path, server):
    config, _broker, report = server
    assert report.broker_config_changed
    private = Path(config.keys.signing_key)
    assert stat.S_IMODE(private.stat().st_mode) & 0o007 == 0  # nobody else reads the key
    assert stat.S_IMODE(Path(config.broker.password_file).stat().st_mode) & 0o007 == 0
    before = {p: p.read_bytes() for p in (tmp_path / "etc").rglob("*") if p.is_file()}
    dropin = tmp_path / "mosquitto" / "conf.d" / "hoixa.conf"
    before[dropin] = dropin.read_bytes()
    again = init_server(config.source, InitOptions(public_host="", etc_dir=tmp_path / "etc"))
    assert again.done == [] and not again.broker_config_changed
    assert {p: p.read_bytes() for p in before} == before
    assert "max_queued_messages 500000" in dropin.read_text()


def test_an_enrolled_box_connects_reports_and_takes_a_signed_update(tmp_path, server):
    config, _broker, _ = server
    registry = FleetRegistry(config)
    local = LocalSettings(counter_phone="0276 3822 111", settings={"gpio": {"button_pin": 27}})
    box, bundle = registry.enrol(COMMUNE, tmp_path / "usb", local)
    assert box.device_id == f"hx-{PROVINCE}-{COMMUNE}-01"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    assert stat.S_IMODE((bundle / "device.toml").stat().st_mode) == 0o600
    assert box.password not in repr(box)

    box_etc = tmp_path / "box-etc"
    apply_bundle(bundle, box_etc)
    device = load_config(box_etc / "device.toml")
    assert device.commune_name == "Xã Tân Phú"
    assert device.counter.phone == "0276 3822 111" and device.gpio.button_pin == 27
    assert device.fleet.ca_file == str(box_etc / "ca.crt")
    assert device.fleet.broker_host == "localhost" and device.fleet.tls

    # The server's side: the worker, started as hoixa-ingest@.service starts it (settings from
    # server.toml only), stores what the box says over the real broker.
    url = config.database_url()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoixa.server.ingest",
            "--config",
            str(config.source),
            "--client-id",
            "ingest-prov",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    device_data = tmp_path / "box-data"
    from dataclasses import replace

    link = open_link(replace(device, data_dir=device_data))
    assert link is not None
    link.start()
    try:
        assert link.wait_until(lambda: link.connected, 20), "the box did not log in over TLS"
        engine = db.make_engine(url)

        def online() -> bool:
            with db.session_scope(engine) as session:
                row = session.get(db.Device, box.device_id)
                return bool(row and row.online and row.enrolled)

        wait_until(online, "the server to see the enrolled box online")

        # A catalogue for the box's commune, signed with the key init made.
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        publisher.username_pw_set(config.broker.username, config.broker_password())
        publisher.connect("127.0.0.1", config.broker.port)
        publisher.loop_start()
        try:
            catalogue = make_catalogue(
                [make_procedure("1.001193", "Đăng ký khai sinh", ["làm giấy khai sinh"])],
                version=7,
                scope=f"commune/{COMMUNE}",
            )
            publish_catalogue(
                publisher, catalogue, signing.load_private_key(Path(config.keys.signing_key))
            )
        finally:
            publisher.disconnect()
            publisher.loop_stop()
        from hoixa.device.catalogue_store import CatalogueStore

        store = CatalogueStore(device_data / "catalogue")
        wait_until(
            lambda: (p := store.current()) is not None and p.version == 7,
            "the box to install the signed catalogue",
        )
        engine.dispose()
    finally:
        link.stop()
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output


def test_replace_locks_out_the_old_hardware_and_retire_locks_out_the_box(tmp_path, server):
    config, _broker, _ = server
    public_port, ca = config.broker.public_port, config.broker.box_ca_file
    registry = FleetRegistry(config)
    old, _ = registry.enrol(COMMUNE, tmp_path / "usb1", LocalSettings())
    assert try_login(public_port, old.device_id, old.password, ca) == 0

    new, bundle = registry.replace(old.device_id, tmp_path / "usb2", LocalSettings())
    assert new.device_id == old.device_id and new.password != old.password
    wait_until(
        lambda: try_login(public_port, old.device_id, old.password, ca) != 0,
        "the broker to refuse the old hardware's password",
    )
    assert try_login(public_port, new.device_id, new.password, ca) == 0
    assert (bundle / "device.toml").read_text().count(new.password) == 1

    assert registry.retire(new.device_id) is True
    wait_until(
        lambda: try_login(public_port, new.device_id, new.password, ca) != 0,
        "the broker to refuse the retired box",
    )
    listed = {r.device_id: r for r in registry.boxes()}
    assert listed[new.device_id].retired_at is not None
    assert not listed[new.device_id].can_log_in
    assert registry.retire(new.device_id) is False  # twice is harmless

    # Numbers are never reused: the next box of the commune is -02.
    nxt, _ = registry.enrol(COMMUNE, tmp_path / "usb3", LocalSettings())
    assert nxt.device_id.endswith("-02")
    with pytest.raises(EnrolmentError, match="not enrolled"):
        registry.replace(new.device_id, tmp_path / "usb4", LocalSettings())


def test_plain_connections_and_other_boxes_topics_are_refused(tmp_path, server):
    config, _broker, _ = server
    registry = FleetRegistry(config)
    box, _ = registry.enrol(COMMUNE, tmp_path / "usb", LocalSettings())
    # The public listener speaks TLS only; the plain one listens on 127.0.0.1 only, and
    # every listener wants a password.
    assert try_login(config.broker.public_port, box.device_id, box.password, None) != 0
    assert try_login(config.broker.port, box.device_id, "wrong", None) != 0
    place = topics.DevicePlace(PROVINCE, COMMUNE, box.device_id)
    assert place.events().startswith(f"hoixa/v1/dev/{PROVINCE}/{COMMUNE}/")
    acl = Path(config.broker.accounts_acl_file).read_text()
    assert f"topic write {place.events()}" in acl


def test_a_damaged_or_partial_bundle_changes_nothing_on_the_box(tmp_path, server):
    config, _broker, _ = server
    registry = FleetRegistry(config)
    _, bundle = registry.enrol(COMMUNE, tmp_path / "usb", LocalSettings())
    box_etc = tmp_path / "box-etc"
    box_etc.mkdir()
    (box_etc / "device.toml").write_text('[device]\ncommune_name = "cũ"\n')

    (bundle / "ca.crt").unlink()  # copied partly
    with pytest.raises(BundleError, match=r"ca\.crt is missing"):
        apply_bundle(bundle, box_etc)
    text = (bundle / "device.toml").read_text()
    (bundle / "device.toml").write_text(text.replace("button_pin", "nut") + "[loa]\nx = 1\n")
    with pytest.raises(BundleError):
        apply_bundle(bundle, box_etc)
    assert (box_etc / "device.toml").read_text() == '[device]\ncommune_name = "cũ"\n'
    with pytest.raises(BundleError, match=r"no device\.toml"):
        apply_bundle(tmp_path, box_etc)


def test_enrolment_refuses_unknown_communes_and_a_server_without_public_name(tmp_path, server):
    config, _broker, _ = server
    registry = FleetRegistry(config)
    with pytest.raises(UnknownUnit):
        registry.enrol("99999", tmp_path / "usb", LocalSettings())
    assert registry.boxes() == []  # nothing half-made
    from dataclasses import replace

    nameless = replace(config, broker=replace(config.broker, public_host=""))
    with pytest.raises(EnrolmentError, match="public_host is empty"):
        FleetRegistry(nameless).enrol(COMMUNE, tmp_path / "usb", LocalSettings())


def test_the_commands_a_technician_types(tmp_path, server, capsys, monkeypatch):
    config, _broker, _ = server
    cfg = str(config.source)
    assert cli.main(["provision", "units", "--search", "tan phu", "--province", PROVINCE]) == 0
    assert f"{PROVINCE}  {COMMUNE}  Xã Tân Phú" in capsys.readouterr().out

    usb = tmp_path / "usb"
    code = cli.main(
        [
            "provision",
            "enrol",
            "--config",
            cfg,
            "--commune",
            COMMUNE,
            "--out",
            str(usb),
            "--counter-phone",
            "0276 3822 111",
            "--set",
            "gpio.button_pin=22",
            "--set",
            'audio.input_device="USB"',
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and f"hx-{PROVINCE}-{COMMUNE}-01" in out and "provision apply" in out
    bundle = usb / f"hx-{PROVINCE}-{COMMUNE}-01"
    assert (bundle / "DOC-TRUOC.txt").read_text().startswith("HỎI XÃ")

    box_etc = tmp_path / "box-etc"
    assert cli.main(["provision", "apply", str(bundle), "--etc", str(box_etc)]) == 0
    device = load_config(box_etc / "device.toml")
    assert device.gpio.button_pin == 22 and device.audio.input_device == "USB"

    # The box's link alone (no audio): logs in with what the bundle gave it.
    monkeypatch.setenv("HOIXA_DATA_DIR", str(tmp_path / "box-data"))
    config_arg = str(box_etc / "device.toml")
    assert cli.main(["device", "link", "--config", config_arg, "--seconds", "4"]) == 0
    assert "đã kết nối" in capsys.readouterr().out

    assert cli.main(["provision", "list", "--config", cfg]) == 0
    assert "Xã Tân Phú" in capsys.readouterr().out

    # Mistakes: one clear line and exit status 1, no traceback.
    assert (
        cli.main(["provision", "enrol", "--config", cfg, "--commune", "99999", "--out", str(usb)])
        == 1
    )
    assert "không có trong danh mục" in capsys.readouterr().err
    assert cli.main(["provision", "list", "--config", str(tmp_path / "none.toml")]) == 1
    assert "hoixa server init" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(
            [
                "provision",
                "enrol",
                "--config",
                cfg,
                "--commune",
                COMMUNE,
                "--out",
                str(usb),
                "--set",
                "no-dot",
            ]
        )

    assert cli.main(["provision", "retire", "--config", cfg, f"hx-{PROVINCE}-{COMMUNE}-01"]) == 0
    assert "đã thu hồi" in capsys.readouterr().out
    assert os.path.exists(config.broker.accounts_password_file)


def test_a_national_server_hands_ingestion_to_separate_workers(tmp_path, server):
    """`[server] ingest = false`: the console's process stores nothing (the hoixa-ingest@
    workers do), so no message is handled twice; anything else than true/false is refused."""
    config, _broker, _ = server
    text = config.source.read_text()
    assert "ingest = true" in text  # server init writes the key, on by default
    config.source.write_text(text.replace("ingest = true", "ingest = false"))
    assert load_server_config(config.source).server.ingest is False
    args = cli.build_parser().parse_args(["server", "run", "--config", str(config.source)])
    cli._server_settings(args)
    assert args.ingest is False
    args = cli.build_parser().parse_args(["server", "run", "--no-ingest"])
    cli._server_settings(args)
    assert args.ingest is False
    config.source.write_text(text.replace("ingest = true", 'ingest = "no"'))
    with pytest.raises(ServerConfigError, match=r"server\.ingest must be bool"):
        load_server_config(config.source)
