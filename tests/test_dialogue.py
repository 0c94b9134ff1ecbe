"""Every path of a conversation, on a small catalogue built here so the facts are known."""

import pytest

from conftest import make_catalogue, make_procedure
from hoixa.device.config import CounterInfo, DeviceConfig
from hoixa.device.dialogue import Dialogue
from hoixa.device.matcher import Matcher

CONFIG = DeviceConfig(
    commune_name="xã Tân Phú",
    counter=CounterInfo(
        name="bộ phận một cửa xã Tân Phú", location="tầng một", phone="0277 3851 234"
    ),
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    procs = [
        make_procedure(
            "1.001193",
            "Đăng ký khai sinh",
            ["làm giấy khai sinh", "khai sinh cho con"],
            documents=[
                {"name": "Tờ khai đăng ký khai sinh", "copies": 1, "form": "original"},
                {"name": "Giấy chứng sinh", "copies": 1, "form": "original"},
                {
                    "name": "Văn bản ủy quyền",
                    "form": "original",
                    "condition": "nếu nhờ người khác đi làm",
                },
            ],
            fees=[
                {
                    "name": "Lệ phí đăng ký khai sinh đúng hạn",
                    "amount_vnd": 0,
                    "exemptions": ["Đăng ký khai sinh đúng hạn"],
                }
            ],
        ),
        make_procedure("1.000894", "Đăng ký kết hôn", ["làm hôn thú"]),
        make_procedure(
            "2.000815",
            "Chứng thực bản sao từ bản chính",
            ["công chứng giấy tờ"],
            fees=[{"name": "Phí chứng thực bản sao", "amount_vnd": 2000, "unit": "trang"}],
            caveats=[{"field": "fees", "note": "Từ trang thứ ba thu 1.000 đồng một trang."}],
        ),
        # Two procedures people name alike: "làm căn cước" fits both.
        make_procedure(
            "1.014061",
            "Cấp thẻ căn cước cho người từ đủ 14 tuổi",
            ["làm căn cước", "làm căn cước cho người lớn"],
        ),
        make_procedure(
            "1.014062",
            "Cấp thẻ căn cước cho người dưới 14 tuổi",
            ["làm căn cước", "làm căn cước cho trẻ em"],
        ),
    ]
    catalogue = make_catalogue(procs)
    catalogue["referrals"] = [
        {
            "id": "ref.ho-chieu",
            "name": "làm hộ chiếu",
            "aliases": ["cấp hộ chiếu", "xin hộ chiếu"],
            "where": "phòng xuất nhập cảnh công an tỉnh",
            "note": "Có thể nộp trực tuyến.",
        }
    ]
    return Matcher(catalogue)


@pytest.fixture
def talk(matcher):
    dialogue = Dialogue(matcher, CONFIG)
    dialogue.start()
    return dialogue


def test_greeting_names_the_commune_and_the_commands(matcher):
    reply = Dialogue(matcher, CONFIG).start()
    assert "xã Tân Phú" in reply.text
    assert "nói lại" in reply.text and "chậm lại" in reply.text
    assert reply.expects == "question" and not reply.ended


def test_procedure_alone_offers_the_menu_then_a_number_picks_a_section(talk):
    menu = talk.handle("cho tôi hỏi làm giấy khai sinh")
    assert menu.action == "menu" and menu.procedure == "1.001193"
    assert "giấy tờ cần chuẩn bị" in menu.text and "lệ phí" in menu.text
    answer = talk.handle("số hai")
    assert answer.action == "answer" and answer.category == "documents"
    assert "Hồ sơ gồm ba loại giấy tờ" in answer.text
    assert "Một là tờ khai đăng ký khai sinh" in answer.text
    assert "nếu nhờ người khác đi làm" in answer.text.lower()


def test_section_name_after_menu(talk):
    talk.handle("làm hôn thú")
    reply = talk.handle("lệ phí")
    assert reply.category == "fees" and reply.procedure == "1.000894"
    assert "tám nghìn đồng" in reply.text


def test_procedure_with_question_is_answered_directly_with_its_caveat(talk):
    reply = talk.handle("công chứng giấy tờ hết bao nhiêu tiền")
    assert reply.action == "answer" and reply.category == "fees"
    assert "hai nghìn đồng" in reply.text
    assert "Lưu ý" in reply.text and "trang thứ ba" in reply.text
    assert not any(ch.isdigit() for ch in reply.text)


def test_follow_up_question_uses_the_procedure_being_discussed(talk):
    talk.handle("làm giấy khai sinh cần giấy tờ gì")
    reply = talk.handle("thế còn mất bao lâu")
    assert reply.procedure == "1.001193" and reply.category == "processing_time"


def test_repeat_says_exactly_the_same_thing_again(talk):
    first = talk.handle("làm hôn thú cần giấy tờ gì")
    again = talk.handle("nói lại")
    assert again.action == "repeat" and again.text == first.text


def test_slower_repeats_slowly_and_stays_slow(talk):
    first = talk.handle("làm hôn thú cần giấy tờ gì")
    slower = talk.handle("chậm lại")
    assert slower.slow and first.text in slower.text
    assert talk.handle("mất bao lâu").slow


def test_back_returns_to_the_menu_then_to_the_start(talk):
    talk.handle("làm hôn thú cần giấy tờ gì")
    menu = talk.handle("quay lại")
    assert menu.action == "menu" and menu.procedure == "1.000894"
    start = talk.handle("quay lại")
    assert start.action == "back" and start.procedure is None and start.expects == "question"


def test_close_candidates_are_offered_and_a_number_chooses(talk):
    reply = talk.handle("làm căn cước")
    assert reply.action == "clarify" and reply.expects == "choice"
    assert "Số một" in reply.text and "Số hai" in reply.text
    chosen = talk.handle("số hai")
    candidates = next(t.candidates for t in talk.record.turns if t.action == "clarify")
    assert chosen.procedure == candidates[1]


def test_clarify_answer_by_name(talk):
    talk.handle("làm căn cước")
    chosen = talk.handle("cho trẻ em dưới mười bốn tuổi")
    assert chosen.procedure == "1.014062"


def test_a_category_asked_with_an_unclear_procedure_is_answered_after_the_choice(talk):
    reply = talk.handle("làm căn cước cần giấy tờ gì")
    assert reply.action == "clarify"
    chosen = talk.handle("một")
    assert chosen.action == "answer" and chosen.category == "documents"


def test_one_misunderstanding_asks_again_two_refer_to_the_counter(talk):
    first = talk.handle("con trâu nhà tôi bị ốm")
    assert first.action == "not_found" and first.expects == "question"
    second = talk.handle("hôm nay có mưa không")
    assert second.action == "satisfaction"
    assert "bộ phận một cửa xã Tân Phú" in second.text
    assert "không hai bảy bảy" in second.text  # the phone number, read digit by digit
    assert talk.record.termination == "referred"
    assert talk.record.not_understood == ["con trâu nhà tôi bị ốm", "hôm nay có mưa không"]


def test_understanding_resets_the_misunderstanding_count(talk):
    talk.handle("con trâu nhà tôi bị ốm")
    talk.handle("làm hôn thú")
    assert talk.handle("xổ số hôm nay").action == "not_found"


def test_a_matter_handled_elsewhere_is_referred_and_the_conversation_goes_on(talk):
    talk.handle("con trâu nhà tôi bị ốm")  # one misunderstanding first
    reply = talk.handle("tôi muốn làm hộ chiếu thì đi đâu")
    assert reply.action == "referral" and reply.expects == "question"
    assert "làm hộ chiếu" in reply.text and "phòng xuất nhập cảnh công an tỉnh" in reply.text
    assert "Có thể nộp trực tuyến." in reply.text
    # understood: the next misunderstanding asks again instead of ending at the counter
    assert talk.handle("xổ số hôm nay").action == "not_found"
    assert talk.handle("làm hôn thú").action == "menu"
    turn = next(t for t in talk.record.turns if t.action == "referral")
    assert turn.procedure == "ref.ho-chieu"
    assert talk.handle("cảm ơn").action == "satisfaction"


def test_silence_is_not_understood_politely(talk):
    reply = talk.handle("")
    assert reply.action == "not_found" and "chưa nghe rõ" in reply.text


def test_emergency_gives_the_numbers_and_ends(talk):
    reply = talk.handle("nhà tôi bị cháy")
    assert reply.action == "emergency" and reply.ended
    assert reply.text.startswith("Có cháy") and "một một bốn" in reply.text
    assert "một một ba" in reply.text and "một một năm" in reply.text
    assert talk.record.termination == "emergency"
    with pytest.raises(RuntimeError):
        talk.handle("cảm ơn")


def test_thanks_leads_to_one_satisfaction_question(talk):
    talk.handle("làm hôn thú mất bao lâu")
    question = talk.handle("cảm ơn")
    assert question.action == "satisfaction" and question.expects == "satisfaction"
    bye = talk.handle("dạ hài lòng")
    assert bye.ended and talk.record.satisfaction == "satisfied"
    assert talk.record.termination == "thanks"
    assert talk.record.procedures == ["1.000894"]
    assert talk.record.categories == ["processing_time"]


def test_unsatisfied_and_unclear_satisfaction_answers(matcher):
    for answers, expected in ((["không hài lòng"], "unsatisfied"), (["ờm", "à"], None)):
        talk = Dialogue(matcher, CONFIG)
        talk.start()
        talk.handle("làm hôn thú")
        talk.handle("thôi")
        for said in answers:
            reply = talk.handle(said)
        assert reply.ended and talk.record.satisfaction == expected


def test_satisfaction_by_button(talk):
    talk.handle("làm hôn thú")
    talk.handle("cảm ơn")
    assert talk.satisfaction_by_button(False).ended
    assert talk.record.satisfaction == "unsatisfied"


def test_leaving_without_asking_anything_skips_the_satisfaction_question(talk):
    reply = talk.handle("thôi cảm ơn")
    assert reply.action == "goodbye" and reply.ended
    assert talk.record.satisfaction is None


def test_abandon_records_the_termination(talk):
    talk.handle("làm hôn thú")
    talk.abandon()
    assert talk.record.termination == "abandoned"


def test_every_turn_is_recorded_for_the_usage_report(talk):
    talk.handle("làm giấy khai sinh")
    talk.handle("ba")
    actions = [(t.action, t.procedure, t.category) for t in talk.record.turns]
    assert actions == [("menu", "1.001193", None), ("answer", "1.001193", "processing_time")]
    assert all(0 < t.confidence <= 1 for t in talk.record.turns)


def test_audio_advice_keeps_the_conversation_where_it_was(talk):
    answer = talk.handle("làm hôn thú cần giấy tờ gì")
    advice = talk.audio_problem("clipped")
    assert advice.action == "audio_problem" and "xa ra" in advice.text
    assert talk.record.turns[-1].audio_problem == "clipped"
    assert talk.handle("nói lại").text == answer.text  # repeats the answer, not the advice
    assert talk.handle("mất bao lâu").procedure == "1.000894"


def test_session_record_has_id_and_utc_times(talk):
    talk.handle("làm hôn thú")
    talk.handle("cảm ơn")
    talk.satisfaction_by_button(True)
    record = talk.record
    assert len(record.session_id) == 36 and record.started_at.endswith("Z")
    assert record.ended_at and record.ended_at >= record.started_at
    assert record.satisfaction == "satisfied" and record.satisfaction_by == "button"
