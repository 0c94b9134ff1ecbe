import pytest

from hoixa.device.config import ConfigError, load_config

GOOD = """
[device]
commune_name = "xã Tân Phú"
data_dir = "/srv/hoixa"

[counter]
name = "bộ phận một cửa xã Tân Phú"
phone = "0277 3851 234"

[tts]
slow_rate = 2
espeak_voice = "vi-vn-x-south"

[gpio]
button_pin = 27
talk_mode = "tap"

[fleet]
device_id = "hx-79-26734-01"
province = "79"
commune = "26734"
broker_host = "mqtt.hoixa.example.vn"
password = "written-at-enrolment"
"""


def write(tmp_path, text):
    path = tmp_path / "device.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_file_is_read_and_the_rest_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("HOIXA_DATA_DIR", raising=False)
    config = load_config(write(tmp_path, GOOD))
    assert config.commune_name == "xã Tân Phú"
    assert str(config.data_dir) == "/srv/hoixa"
    assert config.counter.phone == "0277 3851 234"
    assert config.counter.hours  # default kept
    assert config.tts.slow_rate == 2.0 and isinstance(config.tts.slow_rate, float)
    assert config.tts.espeak_voice == "vi-vn-x-south"
    assert config.gpio.button_pin == 27 and config.gpio.talk_mode == "tap"
    assert config.asr.backend == "auto"
    # [fleet] is what enrolment writes: a box must be able to read it back.
    assert config.fleet.device_id == "hx-79-26734-01"
    assert (config.fleet.province, config.fleet.commune) == ("79", "26734")
    assert config.fleet.broker_host == "mqtt.hoixa.example.vn"
    assert config.fleet.broker_port == 8883 and config.fleet.tls  # defaults kept


def test_environment_overrides_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOIXA_DATA_DIR", str(tmp_path / "box"))
    assert load_config(write(tmp_path, GOOD)).data_dir == tmp_path / "box"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gpio]\nbutton_pin = \"seventeen\"\n", "gpio.button_pin must be int"),
        ("[counter]\nfax = \"1\"\n", "unknown key(s) counter.fax"),
        ("[speaker]\nvolume = 1\n", "unknown section(s) speaker"),
        ("[device]\ncommune = \"x\"\n", "unknown key(s) device.commune"),
        ("[gpio]\nbutton_pin = true\n", "gpio.button_pin must be int"),
        ("[device\n", "not valid TOML"),
    ],
)
def test_mistakes_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(write(tmp_path, text))


def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "nope.toml")
