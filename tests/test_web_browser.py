"""The console in a real browser, end to end: headless Chromium (driven by Playwright) logs in,
imports a catalogue file, publishes it to one commune, watches a real box there verify,
install and acknowledge it, then sees that box's conversations on the dashboard.

Everything is real: Mosquitto, `hoixa server add-user` and `hoixa server run` in their own
processes, and the box's own fleet link (`open_link`: on-disk outbox, CatalogueUpdater, the
catalogue store in its data folder). Assertions are on what the page shows, and the page must
log no console error or uncaught exception. Skipped only where Chromium, Playwright or
Mosquitto is not installed (CI installs all three).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import make_catalogue, make_procedure
from hoixa.contract import signing
from hoixa.device.catalogue_store import CatalogueStore
from hoixa.device.config import DeviceConfig, FleetConfig
from hoixa.device.dialogue import SessionRecord, TurnRecord
from hoixa.device.fleet.events import build_event
from hoixa.device.fleet.link import Backoff, FleetLink, LinkTuning, open_link
from hoixa.device.matcher import Matcher
from hoixa.server.mosquitto import Mosquitto, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium is not installed ({CHROMIUM})", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "trung", "mat-khau-trinh-duyet-1"
PROVINCE, COMMUNE, DEVICE = "79", "26734", "hx-79-26734-01"
ADOPTION, BIRTH = "1.003005", "1.001193"
ADOPTION_NAME = "Đăng ký việc nuôi con nuôi trong nước"
BROWSER_ARGS = [
    "--no-sandbox",  # needed as root (CI containers); the page is our own console
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
FAST_LINK = LinkTuning(backoff=Backoff(base_s=0.05, cap_s=0.5), stop_grace_s=1.0)


# -- what is uploaded --------------------------------------------------------------------------


def good_catalogue_json() -> bytes:
    doc = make_catalogue(
        [
            make_procedure(BIRTH, "Đăng ký khai sinh", ["làm giấy khai sinh"]),
            make_procedure(ADOPTION, ADOPTION_NAME, ["nhận con nuôi", "xin con nuôi"]),
        ]
    )
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def bad_catalogue_xlsx() -> bytes:
    """One procedure whose level ("xã") is not one of the codes the schema allows."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(
        ["code", "name", "field", "level", "agency", "steps", "processing_time", "result"]
    )
    book.active.append(
        [ADOPTION, ADOPTION_NAME, "Hộ tịch", "xã", "UBND xã", "Nộp hồ sơ.", "20 ngày", "Giấy"]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the box's conversations -------------------------------------------------------------------


def conversations(link: FleetLink, catalogue_version: int) -> list[dict]:
    """Three conversations, five questions: three about adoption, one about birth, one the
    box did not understand."""
    records = [
        SessionRecord(
            turns=[
                TurnRecord("nhận con nuôi cần giấy gì", "answer", ADOPTION, "documents", 0.9, []),
                TurnRecord("lệ phí bao nhiêu", "answer", ADOPTION, "fees", 0.88, []),
            ],
            procedures=[ADOPTION],
            categories=["documents", "fees"],
            termination="thanks",
            satisfaction="satisfied",
        ),
        SessionRecord(
            turns=[
                TurnRecord("xin con nuôi", "answer", ADOPTION, "steps", 0.8, []),
                TurnRecord("con gà nhà tôi bị mất", "not_found", None, None, 0.0, []),
            ],
            procedures=[ADOPTION],
            categories=["steps"],
            not_understood=["con gà nhà tôi bị mất"],
            termination="abandoned",
        ),
        SessionRecord(
            turns=[TurnRecord("làm giấy khai sinh", "answer", BIRTH, "steps", 0.95, [])],
            procedures=[BIRTH],
            categories=["steps"],
            termination="thanks",
            satisfaction="satisfied",
        ),
    ]
    start = datetime.now(UTC) - timedelta(minutes=5)
    return [
        build_event(
            record,
            device_id=link.place.device_id,
            started_at=start + timedelta(minutes=i),
            ended_at=start + timedelta(minutes=i, seconds=40),
            catalogue_version=catalogue_version,
            software_version="test-browser",
        )
        for i, record in enumerate(records)
    ]


# -- processes ---------------------------------------------------------------------------------


def wait_until(condition, what: str, timeout: float = 20, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


@pytest.fixture
def broker(tmp_path):
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()


@pytest.fixture
def central_key(tmp_path) -> tuple[Path, Path]:
    private, public = tmp_path / "central.key", tmp_path / "central.pub"
    signing.generate_keypair(private, public)
    return private, public


@pytest.fixture
def console(tmp_path, broker, central_key):
    """`hoixa server run` with one central user; yields the console's base URL."""
    data = tmp_path / "server"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    hoixa = [sys.executable, "-m", "hoixa.cli", "server"]
    added = subprocess.run(
        [*hoixa, "add-user", USER, "--role", "central", "--data-dir", str(data)],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log_file:
        server = subprocess.Popen(
            [
                *hoixa,
                "run",
                "--data-dir",
                str(data),
                "--broker",
                f"127.0.0.1:{broker.port}",
                "--listen",
                f"127.0.0.1:{port}",
                "--signing-key",
                str(central_key[0]),
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert server.poll() is None, log_path.read_text()
        try:
            return httpx.get(f"{base}/login", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, "the console to answer", timeout=30)
        yield base
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, log_path.read_text()


@pytest.fixture
def box(tmp_path, broker, central_key):
    """A box of commune 26734, wired as its own configuration wires it, answering from the
    catalogue bundled with the software (nothing installed in its data folder yet)."""
    fleet = FleetConfig(
        device_id=DEVICE,
        province=PROVINCE,
        commune=COMMUNE,
        broker_host="127.0.0.1",
        broker_port=broker.port,
        tls=False,
        catalogue_public_key=str(central_key[1]),
    )
    link = open_link(DeviceConfig(data_dir=tmp_path / "box", fleet=fleet), tuning=FAST_LINK)
    assert link is not None and link.updater is not None
    link.start()
    yield link
    link.stop()
    link.outbox.close()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# -- the test ----------------------------------------------------------------------------------


# Error answers this test provokes on purpose; Chromium logs each as "Failed to load resource".
PROVOKED = {("/login", 401), ("/catalogue/import", 400)}


def is_unexpected_error(message) -> bool:
    if message.type != "error":
        return False
    status = re.search(r"Failed to load resource: .* status of (\d+)", message.text)
    path = urlsplit(message.location.get("url", "")).path
    return not (status and (path, int(status[1])) in PROVOKED)


def reload_until(page, text: str, what: str, timeout: float = 20) -> None:
    """Reload until the page's visible text (spaces collapsed) contains `text`: the console
    does not push updates."""
    deadline = time.monotonic() + timeout
    while text not in (shown := " ".join(page.inner_text("main").split())):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {shown}")
        time.sleep(0.3)
        page.reload()


def test_import_publish_to_a_commune_box_and_see_its_use_in_a_real_browser(
    tmp_path, console, box, browser
):
    expect = sync_api.expect
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    js_errors: list[str] = []

    def on_console(message) -> None:
        if is_unexpected_error(message):
            js_errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))

    # Log in (a wrong password first: the form says so and lets nobody in).
    page.goto(f"{console}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill("sai-mat-khau")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("p.error")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    expect(page.locator("header")).to_contain_text(f"{USER} — Quản trị trung ương")
    expect(page.locator(".card").first).to_have_text(re.compile(r"^\s*0\s+câu hỏi"))

    # The box has made itself known (its retained "online" status reached the database).
    page.get_by_role("link", name="Thiết bị").click()
    reload_until(page, DEVICE, "the box on the boxes page")

    # Import: a spreadsheet with a mistake is refused with where it is; nothing is stored.
    page.get_by_role("link", name="Danh mục thủ tục").click()
    expect(page.locator("main")).to_contain_text("Chưa có danh mục nào.")
    file_input = page.locator('input[type="file"][name="file"]')
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    file_input.set_input_files(
        {"name": "danh-muc.xlsx", "mimeType": xlsx, "buffer": bad_catalogue_xlsx()}
    )
    page.get_by_role("button", name="Nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Không nhập được «danh-muc.xlsx»")
    expect(page.locator("main")).to_contain_text("Chưa có gì được lưu")
    expect(page.locator("main ol li").first).to_contain_text("Dòng 2, cột D (level)")
    page.get_by_role("link", name="← Danh mục thủ tục").click()
    expect(page.locator("main")).to_contain_text("Chưa có danh mục nào.")

    # The corrected file (JSON) becomes draft version 1, to be read before publishing.
    page.locator('input[type="file"][name="file"]').set_input_files(
        {"name": "danh-muc.json", "mimeType": "application/json", "buffer": good_catalogue_json()}
    )
    page.get_by_role("button", name="Nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Danh mục all — phiên bản 1")
    main = page.locator("main")
    expect(main).to_contain_text("Bản nháp, chưa phát hành.")
    expect(main).to_contain_text("2 thủ tục.")
    expect(page.get_by_role("row").filter(has_text=ADOPTION)).to_contain_text(ADOPTION_NAME)

    # Publish to the box's commune: a new version 2 for commune/26734, signed and sent.
    page.get_by_label("hoặc phạm vi khác").fill(f"commune/{COMMUNE}")
    page.get_by_role("button", name="Ký và phát hành").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Danh mục commune/{COMMUNE} — phiên bản 2"
    )
    expect(main).to_contain_text("Đã phát hành lúc")
    expect(page.locator("p.error")).to_have_count(0)

    # The box verifies the signature, installs it and acknowledges; the page shows it.
    reload_until(page, "1 đã áp dụng", "the box's ack on the catalogue page")
    expect(main).to_contain_text("0 từ chối")
    expect(main).to_contain_text("0 đang chờ")
    box_row = page.get_by_role("row").filter(has_text=DEVICE)
    expect(box_row).to_contain_text(f"{PROVINCE} / {COMMUNE}")
    expect(box_row).to_contain_text("Đã áp dụng")

    # ...and it really is in the box's data folder, and the box answers from it.
    store = CatalogueStore(tmp_path / "box" / "catalogue")
    pointer = store.current()
    assert pointer is not None and (pointer.version, pointer.scope) == (2, f"commune/{COMMUNE}")
    installed = store.load()
    assert installed["version"] == 2
    assert ADOPTION_NAME in [p["name"] for p in installed["procedures"]]
    decision = Matcher(installed).match("xin con nuôi")
    assert decision.action == "answer" and decision.procedure["code"] == ADOPTION
    assert box.health.catalogue_version == 2

    # The box's conversations go through its outbox to the server and onto the dashboard.
    for event in conversations(box, box.health.catalogue_version):
        box.record_event(event)
    page.get_by_role("link", name="Tổng quan").click()
    reload_until(page, "5 câu hỏi", "the box's questions on the dashboard")
    cards = page.locator(".card")
    expect(cards.nth(0)).to_have_text(re.compile(r"^\s*5\s+câu hỏi"))
    expect(cards.nth(1)).to_have_text(re.compile(r"^\s*3\s+lượt hỏi"))
    expect(cards.nth(2)).to_contain_text("20% câu chưa hiểu (1/5)")
    expect(cards.nth(4)).to_contain_text("1/1 thiết bị đang hoạt động")
    top = page.locator("section").filter(
        has=page.get_by_role("heading", name="Thủ tục được hỏi nhiều nhất")
    )
    top_rows = top.get_by_role("row")
    expect(top_rows.nth(1)).to_contain_text(ADOPTION_NAME)
    expect(top_rows.nth(1).locator("td.num")).to_have_text("3")
    expect(top_rows.nth(2)).to_contain_text("Đăng ký khai sinh")
    expect(top_rows.nth(2).locator("td.num")).to_have_text("1")
    assert box.outbox.depth() == 0  # every event was acknowledged by the broker

    # What the box did not understand is listed for the catalogue editors.
    page.get_by_role("link", name="Câu hỏi chưa hiểu").click()
    expect(main).to_contain_text("con gà nhà tôi bị mất")

    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    context.close()
    assert js_errors == []
