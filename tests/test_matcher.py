import csv

import pytest

from conftest import ROOT, make_catalogue, make_procedure
from hoixa.contract.catalogue import load_default
from hoixa.device.intents import Utterance
from hoixa.device.matcher import Matcher, phrase_age_limits, question_ages
from hoixa.device.situation import (
    away_for_work,
    clause_after_who,
    clause_before_purpose,
    clause_before_purpose_asked,
    clause_before_result,
    life_side_named,
    papers_held_or_needed,
    registered_thing,
    reregistered_thing,
    residence_in_bundle,
    says_card_changed,
    says_card_damaged,
    says_death_registration_only,
    says_record_lost,
    things_done,
    things_never_done,
    without_unwanted,
)
from hoixa.device.synonyms import copied_papers, official_words

QUERIES = ROOT / "bench/understanding/queries.tsv"


@pytest.fixture(scope="module")
def hotich() -> Matcher:
    return Matcher(
        make_catalogue(
            [
                make_procedure("1.001193", "Đăng ký khai sinh", ["làm giấy khai sinh"]),
                make_procedure("1.003583", "Đăng ký khai sinh lưu động"),
                make_procedure("1.004884", "Đăng ký lại khai sinh"),
                make_procedure("1.000894", "Đăng ký kết hôn", ["làm hôn thú"]),
                make_procedure("1.000656", "Đăng ký khai tử", ["báo tử"]),
                make_procedure("1.004222", "Đăng ký thường trú", ["nhập hộ khẩu"]),
                make_procedure("1.004194", "Đăng ký tạm trú"),
            ]
        )
    )


def test_the_generic_procedure_wins_when_no_qualifier_is_said(hotich):
    decision = hotich.match("đăng ký khai sinh cho con")
    assert decision.action == "answer" and decision.procedure["code"] == "1.001193"
    assert decision.candidates[1].score < decision.candidates[0].score


def test_a_said_qualifier_picks_the_specific_procedure(hotich):
    assert hotich.match("đăng ký lại khai sinh vì bị mất").procedure["code"] == "1.004884"


@pytest.mark.parametrize(
    "query",
    [
        "lam giay khai sinh",  # no tone marks
        "làm giấy khaisinh",  # syllables merged by the recogniser
        "làm giấy khai xinh",  # s/x confusion
        "ờ cho tôi hỏi cái làm giấy khai sinh cho thằng cu nhà tôi nhé",  # fillers and chatter
    ],
)
def test_recogniser_errors_and_chatter_still_match(hotich, query):
    decision = hotich.match(query)
    assert decision.action == "answer" and decision.procedure["code"] == "1.001193"


def test_regional_consonants_match(hotich):
    decision = hotich.match("đăng ký thường chú")  # tr/ch
    assert decision.action == "answer" and decision.procedure["code"] == "1.004222"


def test_out_of_scope_is_not_found(hotich):
    for query in ("hôm nay trời có mưa không", "giá lúa bao nhiêu", "xổ số miền nam"):
        assert hotich.match(query).action == "not_found", query


def test_category_is_extracted_and_does_not_disturb_matching(hotich):
    decision = hotich.match("làm hôn thú hết bao nhiêu tiền")
    assert decision.procedure["code"] == "1.000894" and decision.category == "fees"


def test_emergency_is_never_matched_to_a_procedure(hotich):
    decision = hotich.match("có người bị tai nạn ngoài đường")
    assert decision.action == "emergency" and decision.emergency == "medical"
    assert decision.procedure is None and decision.candidates == ()


def test_close_candidates_are_asked_back_not_guessed(hotich):
    decision = hotich.match("đăng ký trú")
    assert decision.action == "clarify"
    assert {c.code for c in decision.candidates} == {"1.004222", "1.004194"}


def test_rank_among_restricts_the_candidates(hotich):
    from hoixa.device.intents import Utterance

    ranked = hotich.rank(Utterance.of("đăng ký khai sinh"), among={"1.003583", "1.004884"})
    assert {c.code for c in ranked} <= {"1.003583", "1.004884"} and ranked


def test_decision_json_has_the_documented_fields(hotich):
    out = hotich.match("làm hôn thú").to_json()
    assert out["action"] == "answer"
    assert out["procedure"] == {"code": "1.000894", "name": "Đăng ký kết hôn"}
    assert set(out) >= {"query", "action", "procedure", "category", "candidates"}


def _labelled() -> list[dict]:
    with open(QUERIES, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_a_sample_of_the_labelled_villager_queries():
    """Every third labelled query: helped most of the time, almost never answered wrongly.

    Helped = answered with the right procedure, or asked back offering the right one.
    """
    matcher = Matcher(load_default())
    rows = _labelled()[::3]
    assert len(rows) >= 100
    helped = wrong = 0
    for row in rows:
        decision = matcher.match(row["query"])
        expected = row["expected"]
        got = decision.procedure["code"] if decision.procedure else decision.action
        offered = [c.code for c in decision.candidates]
        if got == expected or (decision.action == "clarify" and expected in offered):
            helped += 1
        elif decision.action == "answer" or expected == "emergency":
            wrong += 1
    assert helped / len(rows) >= 0.85, f"helped {helped}/{len(rows)}"
    assert wrong / len(rows) <= 0.03, f"wrong {wrong}/{len(rows)}"


@pytest.fixture(scope="module")
def can_cuoc() -> Matcher:
    return Matcher(
        make_catalogue(
            [
                make_procedure(
                    "1.014061",
                    "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên",
                    ["làm căn cước", "làm chứng minh nhân dân"],
                ),
                make_procedure(
                    "1.014062", "Cấp thẻ căn cước cho người dưới 14 tuổi", ["làm căn cước cho con"]
                ),
                make_procedure(
                    "1.014064",
                    "Cấp lại thẻ căn cước",
                    ["mất căn cước", "làm lại căn cước bị mất", "cấp lại căn cước"],
                ),
                make_procedure("1.000656", "Đăng ký khai tử", ["báo tử", "làm giấy chứng tử"]),
                make_procedure(
                    "1.005461", "Đăng ký lại khai tử", ["khai tử lại", "làm lại giấy chứng tử"]
                ),
            ]
        )
    )


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    return Matcher(load_default())


def test_a_condition_word_said_outside_the_best_phrase_still_picks_the_sister(shipped):
    # "làm chứng minh nhân dân" is a first-time phrase, but "mất" is said: cấp lại.
    decision = shipped.match("mất chứng minh nhân dân thì làm lại được không")
    assert decision.candidates[0].code == "1.014064"


def test_a_missing_verb_of_asking_does_not_favour_the_special_case(shipped):
    # Without "lại", the everyday procedure wins although its name also has "đăng ký".
    assert shipped.match("làm khai tử xong thì được cấp giấy gì").candidates[0].code == "1.000656"


@pytest.mark.parametrize(
    ("toneless", "one_mark"),
    [
        ("dang ky tam tru cho nguoi thue tro o dau", "dang ky tam tru cho nguoi thuê tro o dau"),
        ("xin cap lai can cuoc bi mat", "xin cap lai căn cuoc bi mat"),
    ],
)
def test_one_stray_tone_mark_does_not_make_a_toneless_question_look_misheard(
    shipped, toneless, one_mark
):
    # A recogniser or keyboard without tones may leave one mark ("thuê"); the other
    # syllables are then no more wrongly toned than in the question without it.
    plain, marked = shipped.match(toneless), shipped.match(one_mark)
    assert plain.action == marked.action == "answer"
    assert plain.procedure["code"] == marked.procedure["code"]


def test_numbers_said_in_words_match_digits():
    matcher = Matcher(
        make_catalogue(
            [
                make_procedure("9.000075", "Trợ cấp hưu trí xã hội cho người từ đủ 75 tuổi"),
                make_procedure("9.000080", "Trợ cấp hưu trí xã hội cho người từ đủ 80 tuổi"),
            ]
        )
    )
    decision = matcher.match("trợ cấp cho mẹ tôi đủ bảy mươi lăm tuổi")
    assert [c.code for c in decision.candidates] == ["9.000075"]


def test_chatter_is_recognised_by_spelling_not_sound(hotich):
    # "cái" is chatter; "khai", which sounds alike to the matcher, is not.
    khai = hotich.match("cái khai tử")
    assert khai.action == "answer" and khai.procedure["code"] == "1.000656"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("bố tôi vừa tạ thế tuần trước phải báo xã thế nào", "1.000656"),  # khai tử
        ("con dâu tôi đẻ được mười ngày rồi", "1.001193"),  # khai sinh
        ("bà ấy góa chồng giờ muốn tái giá", "1.000894"),  # kết hôn
        ("thằng con tôi vào nam làm ăn mấy năm", "1.003677"),  # tạm vắng
        ("cháu tôi lên ở với tôi vài tháng để đi học", "1.004194"),  # tạm trú
        ("con trai tôi muốn ra ở riêng", "1.010038"),  # tách hộ
    ],
)
def test_situation_words_imply_the_procedure(shipped, query, code):
    assert shipped.match(query).candidates[0].code == code


def test_a_question_that_also_names_another_procedure_is_asked_back(shipped):
    # "đổi tên" fits the hộ tịch change fully, but "thẻ căn cước" names the card exchange and
    # nothing of the hộ tịch change explains it: answering either would be a guess.
    decision = shipped.match("tôi đổi tên rồi thì thẻ căn cước có phải làm lại không")
    assert decision.action == "clarify"
    assert {"1.004859", "1.014063"} <= {c.code for c in decision.candidates}
    assert decision.candidates[0].rival in {c.code for c in decision.candidates}
    # Naming only one of them is answered as before.
    only_one = shipped.match("tôi muốn đổi tên cho con thì làm thế nào")
    assert only_one.action == "answer" and only_one.procedure["code"] == "1.004859"
    assert only_one.candidates[0].contested < 0.2


@pytest.fixture(scope="module")
def by_age() -> Matcher:
    return Matcher(
        make_catalogue(
            [
                make_procedure(
                    "9.000014",
                    "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên",
                    ["làm căn cước", "làm căn cước cho con 14 tuổi"],
                ),
                make_procedure("9.000013", "Cấp thẻ căn cước cho người dưới 14 tuổi"),
                make_procedure("9.000001", "Đăng ký khai sinh"),
            ]
        )
    )


@pytest.mark.parametrize(
    "query",
    [
        "làm căn cước cho con bảy tuổi",  # an age below the limit
        "đứa cháu mới lên bốn làm căn cước được không",  # "lên bốn": a child's age
        "làm căn cước cho con 9 tuổi",
    ],
)
def test_an_age_picks_the_procedure_for_that_age(by_age, query):
    # "con 14 tuổi" shares more words with the question, but it is for another age.
    assert by_age.match(query).candidates[0].code == "9.000013"


def test_an_age_just_past_a_limit_and_a_misheard_tone_still_read_as_numbers(by_age):
    assert by_age.match("con tôi mười lăm tuổi làm căn cước").candidates[0].code == "9.000014"
    # "mưởi bốn" (wrong tone on "mười") is 14, not "bốn tuổi".
    assert by_age.match("con tôi mưởi bốn tuổi làm căn cước").candidates[0].code == "9.000014"


def test_phrase_age_limits_read_the_comparison():
    limits = {
        text: [(a.op, a.years) for a in phrase_age_limits(text.split())]
        for text in (
            "cho người dưới 14 tuổi",
            "cho người từ đủ 14 tuổi",
            "khi đủ 25 tuổi",
            "người 60 tuổi trở lên",
            "con 14 tuổi",
            "định danh mức 2",
        )
    }
    assert limits == {
        "cho người dưới 14 tuổi": [("<", 14)],
        "cho người từ đủ 14 tuổi": [(">=", 14)],
        "khi đủ 25 tuổi": [(">=", 25)],
        "người 60 tuổi trở lên": [(">=", 60)],
        "con 14 tuổi": [("=", 14)],
        "định danh mức 2": [],
    }


def test_a_limit_the_villager_names_is_not_an_age():
    utt = Utterance.of("khai sinh cho trẻ dưới 6 tuổi và cháu lên ba")
    assert question_ages(utt) == [(3, 9, 11)]


def test_a_card_written_wrong_is_the_card_exchange(shipped):
    # "căn cước ghi sai thông tin" is an alias of the card exchange, and the card is what must
    # change (round 26): the hộ tịch correction, which most of the words fit, is not offered
    # first. Before round 26 both were offered, the correction first.
    decision = shipped.match("căn cước của bố tôi ghi sai quê quán thì sửa thế nào")
    assert decision.candidates[0].code == "1.014063"
    # Without the card, the correction is answered as before.
    only_one = shipped.match("giấy khai sinh của bố tôi ghi sai quê quán thì sửa thế nào")
    assert only_one.action == "answer" and only_one.procedure["code"] == "1.004859"


def test_every_rival_named_enough_is_offered(shipped):
    # "thẻ căn cước" names the exchange, "làm lại" the replacement: both are offered.
    decision = shipped.match("tôi đổi tên rồi thì thẻ căn cước có phải làm lại không")
    assert decision.action == "clarify"
    assert {"1.004859", "1.014063", "1.014064"} == {c.code for c in decision.candidates}


# -- referrals: matters the catalogue knows it does not explain ----------------------------


@pytest.mark.parametrize(
    ("question", "referral"),
    [
        ("thẻ bảo hiểm y tế của tôi bị mất rồi xin lại ở đâu", "ref.the-bao-hiem-y-te"),
        ("muốn làm hộ chiếu đi thăm con ở đài loan", "ref.ho-chieu"),
        ("vợ chồng tôi muốn ly hôn thì nộp đơn ở đâu", "ref.ly-hon"),
        ("xin giấy phép xây dựng nhà hai tầng", "ref.giay-phep-xay-dung"),
        ("ho chieu het han doi o mo", "ref.ho-chieu"),  # not the căn cước that expired
        ("học bổng cho con nhà nghèo nộp ở trường hay ở xã", "ref.hoc-phi"),  # not hộ nghèo
    ],
)
def test_a_matter_handled_elsewhere_is_referred_not_matched(shipped, question, referral):
    decision = shipped.match(question)
    assert decision.action == "not_found"
    assert decision.referral["id"] == referral
    assert decision.to_json()["referral"]["id"] == referral
    assert all(not c.code.startswith("ref.") for c in decision.candidates)


def test_two_matters_handled_elsewhere_do_not_make_a_procedure_the_answer(shipped):
    # "đi xuất khẩu lao động" is close to khai báo tạm vắng, but the other matter named is
    # a referral too: the box sends the person on, it does not explain tạm vắng.
    decision = shipped.match("làm phiếu lý lịch tư pháp để đi xuất khẩu lao động ở đâu")
    assert decision.action == "not_found" and decision.referral is not None


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # the referral's matter is only the setting of a procedure that is named
        ("con tôi sắp đi xuất khẩu lao động bên hàn thì ra xã khai báo tạm vắng", "1.003677"),
        ("photo hộ chiếu rồi ra xã chứng thực bản sao có được không", "2.000815"),
    ],
)
def test_a_referral_that_is_only_the_setting_does_not_hide_the_procedure(shipped, question, code):
    decision = shipped.match(question)
    assert decision.referral is None
    assert decision.action == "answer" and decision.procedure["code"] == code


def test_referrals_do_not_change_how_procedures_are_ranked():
    with_referrals = load_default()
    without = {k: v for k, v in with_referrals.items() if k != "referrals"}
    plain, referring = Matcher(without), Matcher(with_referrals)
    for question in ("cấp đổi thẻ căn cước", "làm giấy khai tử cho mẹ", "đăng ký tạm trú"):
        utt = Utterance.of(question)
        procedures = [c for c in referring.rank(utt) if not c.code.startswith("ref.")]
        assert [(c.code, round(c.score, 6)) for c in procedures] == [
            (c.code, round(c.score, 6)) for c in plain.rank(utt)
        ]


def test_a_procedure_added_later_wins_over_a_referral_saying_the_same():
    doc = load_default()
    adoption = make_procedure("1.003005", "Đăng ký việc nuôi con nuôi trong nước", ["xin con nuôi"])
    doc["procedures"] = [*doc["procedures"], adoption]
    decision = Matcher(doc).match("xin con nuôi")
    assert decision.referral is None
    assert decision.action == "answer" and decision.procedure["code"] == "1.003005"


def test_a_lost_or_reissued_thing_is_not_the_first_time_procedure(shipped):
    # 1.013978 is "cấp sổ đỏ lần đầu": a lost sổ đỏ is another procedure.
    lost = shipped.match("mảnh đất nhà tôi mất sổ đỏ rồi muốn làm lại")
    assert not (lost.action == "answer" and lost.procedure["code"] == "1.013978")
    first = shipped.match("đất ông bà để lại chưa có sổ đỏ giờ đi làm sổ")
    assert first.action == "answer" and first.procedure["code"] == "1.013978"


@pytest.mark.parametrize(
    "question",
    ["đi sao y cái sổ đỏ với cái hôn thú ở xã", "chứng thực bản sao căn cước cho con đi học"],
)
def test_a_paper_named_after_a_word_of_copying_is_what_is_copied(shipped, question):
    # "sổ đỏ", "hôn thú", "căn cước" name procedures too, but here they are being copied.
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == "2.000815"


def test_what_was_done_before_and_what_is_asked_now_are_both_offered(shipped):
    # the card made at five answers best, but "giờ đủ mười bốn rồi thì đi đổi thẻ" asks now
    question = "con gái tôi làm căn cước từ hồi năm tuổi giờ đủ mười bốn rồi thì đi đổi thẻ thế nào"
    decision = shipped.match(question)
    assert decision.action == "clarify"
    assert decision.candidates[0].code == "1.014063"  # what is asked now comes first
    assert {c.code for c in decision.candidates} == {"1.014063", "1.014062"}
    # the card changed after the record is the card exchange (round 26), offered first
    card = shipped.match("mới sửa năm sinh trong khai sinh xong thì căn cước đổi thế nào")
    assert card.candidates[0].code == "1.014063"
    # ...but an answer that also covers what is asked now stands
    kept = shipped.match("tôi có căn cước rồi thì đi đăng ký khai sinh cho người đã có giấy tờ")
    assert kept.action == "answer" and kept.procedure["code"] == "1.004772"


def test_registered_thing_is_read_from_first_registrations_only():
    def thing(name: str):
        return registered_thing(make_procedure("9.000001", name))

    assert thing("Đăng ký khai sinh kết hợp đăng ký nhận cha, mẹ, con") == ("khai", "sinh")
    assert thing("Liên thông các thủ tục hành chính về đăng ký khai sinh, cấp Thẻ BHYT") == (
        "khai",
        "sinh",
    )
    assert thing("Đăng ký lại khai sinh") is None  # the paper was lost: it was had before
    assert thing("Xóa đăng ký thường trú") is None
    assert thing("Cấp bản sao Trích lục hộ tịch") is None


@pytest.mark.parametrize(
    ("question", "had"),
    [
        ("con tôi đã có giấy khai sinh nhưng để trống tên bố", True),
        ("thằng nhỏ có khai sanh rồi mà hổng có tên ba", True),
        ("con tui đã làm khai sinh rồi", True),
        ("con tôi chưa có khai sinh", False),
        ("đã mấy tháng rồi chưa làm khai sinh", False),
        ("làm khai sinh rồi thì bao lâu lấy giấy", False),  # what happens after, not a fact
        ("con gái mười tám tuổi đã được đăng ký khai sinh chưa", False),  # a question
        # the "chưa" of another clause ("mà chưa có tên bố") does not undo what was done
        ("con tôi đã có giấy khai sinh mà chưa có tên bố", True),
    ],
)
def test_things_done_tells_a_registration_already_done(question, had):
    assert (("khai", "sinh") in things_done(Utterance.of(question))) is had


def test_a_thing_registered_already_is_not_registered_again(shipped):
    # 1.000689 registers the birth and the father together; this child's birth is registered.
    decision = shipped.match(
        "con tôi đã có giấy khai sinh nhưng để trống tên bố giờ bố nó muốn nhận con thì làm thế nào"
    )
    assert decision.action == "answer" and decision.procedure["code"] == "1.001022"
    both = shipped.match("làm khai sinh kèm nhận cha cho cháu mới đẻ")
    assert both.candidates[0].code == "1.000689"


def test_a_keyword_alone_asks_back_even_when_other_words_lift_it(shipped):
    # "tiem" (tiêm, an injection) is heard as the keyword "tiệm" (a shop) of hộ kinh doanh.
    decision = shipped.match("tiem phong dai cho cho o dau")
    assert decision.action != "answer"
    assert all(not c.keyword for c in shipped.match("đăng ký hộ kinh doanh").candidates[:1])


@pytest.mark.parametrize(
    ("question", "left"),
    [
        (
            "khai sinh với thẻ bảo hiểm y tế không cần nhập khẩu thì làm sao",
            "khai sinh với thẻ bảo hiểm y tế thì làm sao",
        ),
        (
            "làm khai sinh với bảo hiểm y tế thôi chứ hộ khẩu thì chưa cần",
            "làm khai sinh với bảo hiểm y tế thôi chứ",
        ),
        ("xóa tên ông ra khỏi hộ khẩu", "xóa tên ông ra khỏi hộ khẩu"),  # "khỏi" is not "khỏi cần"
        ("không cần", "không cần"),  # nothing would be left
        (
            "khai sinh với thẻ bảo hiểm y tế còn hộ khẩu để mần sau",
            "khai sinh với thẻ bảo hiểm y tế còn",
        ),
        (
            "khai sanh voi the bao hiem cho con con ho khau thi chua lam",
            "khai sanh voi the bao hiem cho con con",
        ),
        # "để sau này" is a purpose, not "leave it for later"
        (
            "muốn tách hộ ra để sau này xin hộ nghèo riêng",
            "muốn tách hộ ra để sau này xin hộ nghèo riêng",
        ),
    ],
)
def test_what_is_not_wanted_is_left_out(question, left):
    assert " ".join(without_unwanted(Utterance.of(question)).toned) == left


def test_residence_said_not_wanted_is_not_the_procedure_that_registers_it(shipped):
    decision = shipped.match(
        "làm giấy khai sinh với thẻ bảo hiểm y tế cho con thôi chứ hộ khẩu thì chưa cần"
    )
    assert decision.candidates[0].code == "2.001023"  # khai sinh and BHYT, no thường trú


def test_a_registration_never_made_is_not_a_lost_record_registered_again(shipped):
    assert reregistered_thing(make_procedure("9.000001", "Đăng ký lại khai tử")) == ("khai", "tu")
    assert reregistered_thing(make_procedure("9.000001", "Đăng ký khai tử")) is None
    assert ("khai", "tu") in things_never_done(Utterance.of("mất ba năm rồi mà chưa khai tử"))
    assert ("khai", "tu") not in things_never_done(Utterance.of("khai tử rồi mà giấy bị mất"))
    decision = shipped.match(
        "anh trai tôi mất đã ba năm nay mà chưa khai tử giờ đi khai tử có được không"
    )
    assert decision.candidates[0].code == "1.000656"  # late, not "đăng ký lại khai tử"


@pytest.mark.parametrize(
    ("question", "asked", "purpose"),
    [
        (
            "con trai tôi muốn tách hộ để được xét hộ nghèo riêng thì nộp hồ sơ ở đâu",
            "1.010038",
            "1.011607",
        ),
        (
            "bà ngoại mất rồi giờ khai tử để còn cắt hộ khẩu cho bà thì làm sao",
            "1.000656",
            "1.003197",
        ),
    ],
)
def test_what_is_asked_before_a_purpose_is_offered_with_it(shipped, question, asked, purpose):
    decision = shipped.match(question)
    assert decision.action == "clarify"
    assert {c.code for c in decision.candidates[:2]} == {asked, purpose}
    assert decision.candidates[0].code == asked  # round 38: what is asked comes first


def test_doing_again_before_a_purpose_is_what_is_asked(shipped):
    # round 39: "làm lại để" is not "làm sao để"
    question = (
        "ông nội tôi mất đã lâu có làm khai tử nhưng giấy mất sổ ở xã cũng không còn giờ muốn"
        " làm lại để chia đất"
    )
    decision = shipped.match(question)
    assert decision.action == "clarify" and decision.candidates[0].code == "1.005461"


def test_asking_how_before_a_purpose_is_not_what_is_asked(shipped):
    # "làm sao để xóa tạm trú": what follows "để" is the procedure asked
    question = "người thuê trọ đã chuyển đi rồi thì chủ nhà làm sao để xóa tạm trú cho họ"
    assert shipped.match(question).candidates[0].code == "1.010028"
    said = Utterance.of("chủ nhà làm sao để xóa tạm trú")
    assert clause_before_purpose_asked(said, said) is None


def test_a_purpose_is_asked_first_only_when_heard_with_tones():
    # without tones "de" is also "đẻ": "con mới đẻ mà chưa làm hôn thú"
    said = Utterance.of("con moi de ma chua lam hon thu")
    assert clause_before_purpose_asked(said, said) is None
    said = Utterance.of("tách hộ để được xét hộ nghèo")
    clause = clause_before_purpose_asked(said, said)
    assert clause is not None and clause.folded == ("tach", "ho")


def test_a_purpose_clause_needs_a_purpose():
    assert clause_before_purpose(Utterance.of("di chúc để lại nhà cho con út")) is None
    assert clause_before_purpose(Utterance.of("để con đi học")) is None  # nothing before it
    before = clause_before_purpose(Utterance.of("tach ho de duoc xet ho ngheo"))
    assert before is not None and before.folded == ("tach", "ho")


def test_never_mind_is_not_ending_a_guardianship(shipped):
    decision = shipped.match("ừm thôi không có gì")
    assert not (decision.action == "answer" and decision.procedure["code"] == "1.004845")
    ended = shipped.match("dạ bác muốn thôi không làm người giám hộ nữa thì nộp giấy ở đâu")
    assert ended.action == "answer" and ended.procedure["code"] == "1.004845"


@pytest.mark.parametrize(
    ("question", "lost"),
    [
        ("giấy kết hôn mất mà sổ ở xã cũng không còn", True),
        ("giay khai sanh mat ma xa cung hong con luu", True),
        ("hồi xưa có làm khai sinh rồi mà sổ sách ở xã bị cháy hết", True),
        ("sổ hộ khẩu bị mất thì làm sao", False),  # another book
        ("chưa có sổ muốn làm sổ hồng", False),  # "hồng" is not "hỏng"
        ("giấy khai sinh bị mất xin bản sao", False),  # the paper, not the record
        ("giấy kết hôn mất mà xã cũng không còn sổ", True),
        ("bây giờ không còn sổ hộ khẩu thì lấy gì chứng minh", False),
    ],
)
def test_says_record_lost_reads_the_registry_gone(question, lost):
    assert says_record_lost(Utterance.of(question)) is lost


def test_a_lost_record_is_registered_again_not_copied_or_registered_first(shipped):
    decision = shipped.match(
        "vo chong toi dang ky ket hon tu nam tam muoi ma giay mat so xa cung khong con chu man rang"
    )
    assert decision.candidates[0].code == "1.004746"  # đăng ký lại kết hôn
    lost = shipped.match("giấy khai sanh của tui mất tiêu rồi mà trên xã cũng hổng còn lưu sổ")
    assert lost.candidates[0].code == "1.004884"  # đăng ký lại khai sinh, not a copy


def test_toneless_lay_is_taking_not_again(shipped):
    decision = shipped.match("khai tu thi bao lau moi lay duoc giay")  # "lấy", not "lại"
    assert decision.candidates[0].code == "1.000656"


@pytest.mark.parametrize(
    ("question", "paper"),
    [
        ("kết hôn có cần giấy xác nhận độc thân không", "có cần giấy xác nhận độc thân"),
        (
            "đăng ký kết hôn thì có phải xin giấy xác nhận độc thân trước không",
            "có phải xin giấy xác nhận độc thân",
        ),
        ("hai đứa có giấy xác nhận độc thân rồi thì kết hôn ở đâu", "có giấy xác nhận độc thân"),
        (
            "đã xin giấy xác nhận độc thân ở quê vợ rồi giờ đi kết hôn",
            "đã xin giấy xác nhận độc thân",
        ),
        ("làm khai sanh có cần sổ hộ khẩu hông", "có cần sổ hộ khẩu"),
        (
            "đi đăng ký kết hôn thì có phải xin cái giấy xác nhận độc thân trước không",
            "có phải xin cái giấy xác nhận độc thân",
        ),
        # wanted, not needed or held: the paper's own procedure
        ("xin giấy xác nhận độc thân để kết hôn", ""),
        ("em cần giấy xác nhận độc thân để đi làm hồ sơ kết hôn", ""),
        # never had: "chưa làm giấy hôn thú mà có em bé rồi"
        ("tui với ảnh chưa làm giấy hôn thú mà có em bé rồi khai sanh cho nó", ""),
        # a statement, not a question about what is needed
        ("kết hôn cần giấy xác nhận độc thân", ""),
        # a yes-no question with a second one after it
        (
            "làm hôn thú có phải xin giấy xác nhận độc thân trước không hay xã tự tra",
            "có phải xin giấy xác nhận độc thân",
        ),
        # a card named without "giấy", as the other paper needed of two
        (
            "đăng ký kết hôn có cần giấy độc thân hông hay chỉ cần căn cước là được",
            "có cần giấy độc thân cần căn cước là",
        ),
        # ...but a card held tells which procedure: a late birth registration
        ("ba tui có căn cước rồi mà chưa có khai sinh giờ làm sao", ""),
        # a certificate named without "giấy", needed or held
        ("làm giấy kết hôn thì có cần xác nhận độc thân không", "có cần xác nhận độc thân"),
        ("hai đứa có xác nhận độc thân rồi thì kết hôn ở đâu", "có xác nhận độc thân"),
        # what the procedure gives, and the other paper of two
        ("khai tử lại thì được cấp trích lục khai tử mới à", "được cấp trích lục khai tử mới"),
        (
            "làm lại hôn thú xong được cấp giấy chứng nhận mới hay bản trích lục",
            "được cấp giấy chứng nhận mới hay bản trích lục",
        ),
    ],
)
def test_papers_held_or_needed_are_found(question, paper):
    utt = Utterance.of(question)
    assert " ".join(utt.toned[i] for i in sorted(papers_held_or_needed(utt))) == paper


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("chu di dang ky ket hon thi co can giay xac nhan doc than khong", "1.000894"),
        ("lam giay ket hon thi co can xac nhan doc than khong", "1.000894"),
        ("ừm hai đứa em có giấy xác nhận độc thân rồi thì đăng ký kết hôn nộp cho ai", "1.000894"),
        ("xin giấy xác nhận độc thân để đi đăng ký kết hôn ở tỉnh khác", "1.004873"),
        (
            "con tôi bị khuyết tật nặng đã có giấy xác nhận rồi giờ xin trợ cấp hằng tháng",
            "1.001776",
        ),
        (
            "tui quê vĩnh long mà bạn gái ở tây ninh muốn làm giấy kết hôn thì phải xin giấy "
            "xác nhận độc thân ở xã tui hông",
            "1.000894",
        ),
    ],
)
def test_a_paper_needed_or_held_is_not_what_is_asked(shipped, question, code):
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == code


def test_away_for_work_finds_the_absence():
    utt = Utterance.of("bố mẹ nó đi làm ăn xa thì ông bà đi khai sinh thay được không")
    assert [utt.toned[i] for i in sorted(away_for_work(utt))] == ["đi", "làm", "ăn", "xa"]


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # the absence is why they ask, the birth is what
        (
            "chồng tôi đi làm ăn xa ở bình dương tôi ở nhà một mình mới sinh cháu thứ hai tôi "
            "có tự đi đăng ký khai sinh cho cháu được không",
            "1.001193",
        ),
        (
            "dạ bố mẹ thằng bé đi làm ăn xa bỏ nó lại cho bà thì bà có đăng ký giám hộ được không",
            "1.004837",
        ),
        # said alone, the absence is what is asked: tạm vắng
        ("tôi đi làm ăn xa mấy tháng thì có phải khai báo tạm vắng không", "1.003677"),
        ("con trai tôi đi vào nam làm ăn cả năm có phải báo xã không", "1.003677"),
    ],
)
def test_someone_away_for_work_is_the_setting_not_the_question(shipped, question, code):
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == code


def test_a_procedure_named_beside_the_absence_is_offered_not_the_absence(shipped):
    question = "bo me chau di lam an xa ong ba noi di lam khai sinh thay cho chau duoc khong"
    decision = shipped.match(question)
    assert decision.action == "clarify" and decision.candidates[0].code == "1.001193"
    assert "1.003677" not in [c.code for c in decision.candidates]  # not khai báo tạm vắng


@pytest.mark.parametrize("question", ["cần giấy tờ gì", "mất bao lâu", "thủ tục thế nào"])
def test_a_way_of_asking_alone_names_no_procedure(shipped, question):
    decision = shipped.match(question)
    assert decision.action == "not_found" and decision.category is not None
    assert decision.candidates == ()


def test_adoption_said_as_taking_a_child_in_is_not_a_parent_recognised(shipped):
    decision = shipped.match(
        "vợ chồng tôi muốn nhận con của em gái làm con nuôi thì làm thủ tục gì"
    )
    assert decision.action != "answer"  # was answered "nhận cha, mẹ, con" before the alias


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("đăng ký lại khai tử thì có được cấp trích lục khai tử mới không", "1.005461"),
        (
            "đăng ký lại kết hôn xong thì được cấp giấy chứng nhận kết hôn mới hay bản trích lục",
            "1.004746",
        ),
    ],
)
def test_a_paper_received_is_what_the_procedure_gives_not_another(shipped, question, code):
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == code


def test_not_yet_an_age_is_under_it(shipped):
    # "chưa tới mười bốn tuổi" is the "dưới 14 tuổi" of the procedure's name, not 14 and over
    decision = shipped.match("con nít chưa tới mười bốn tuổi thì mần căn cước răng")
    assert decision.candidates[0].code == "1.014062"
    assert decision.action != "answer" or decision.procedure["code"] == "1.014062"


def test_an_age_far_past_an_old_age_limit_is_within_it(shipped):
    # 80 is "từ đủ 75 tuổi" (the social pension), not only 75, 76 or 77
    decision = shipped.match(
        "bà nội tôi tám mươi tuổi thì làm hồ sơ hưởng trợ cấp hằng tháng thế nào"
    )
    assert decision.candidates[0].code == "local.tro-cap-huu-tri-xa-hoi"
    # ...while a child's limit stays near: 40 is not "từ đủ 14 tuổi"
    young = shipped.match("căn cước tui làm năm hai lăm tuổi giờ bốn mươi tuổi phải đi đổi hả")
    assert young.candidates[0].code == "1.014063"


@pytest.mark.parametrize(
    ("question", "referral"),
    [
        ("nhận con nuôi thì làm thủ tục chi", "ref.con-nuoi"),
        ("vợ chồng tôi muốn nhận con của em gái làm con nuôi thì làm thủ tục gì", "ref.con-nuoi"),
    ],
)
def test_a_matter_handled_elsewhere_said_whole_is_referred(shipped, question, referral):
    # "nhận … con" is all "nhận cha, mẹ, con" hears; "nhận con nuôi" is adoption, handled
    # by the justice officer: the box says where to ask instead of asking back
    decision = shipped.match(question)
    assert decision.action == "not_found" and decision.referral["id"] == referral


def test_a_procedure_named_beside_a_referral_matter_is_still_answered(shipped):
    decision = shipped.match("ông bố muốn làm thủ tục nhận con thì cần giấy tờ gì")
    assert decision.action == "answer" and decision.procedure["code"] == "1.001022"
    # the absence of a procedure's name is no cover: "nhập hộ khẩu" names thường trú by
    # an everyday word only, and military service must not take it over
    moved = shipped.match("thằng con đi bộ đội xuất ngũ về thì nhập hộ khẩu vào nhà bố mẹ thế nào")
    assert moved.referral is None


def test_funeral_costs_need_a_death(shipped):
    # "thương binh" names the funeral procedure for people with merit by alias; nobody died,
    # so it is the monthly benefits, handled by the social-policy officer
    living = shipped.match(
        "ông nhà tôi là thương binh tháng này tiền chế độ thương binh bao giờ có"
    )
    assert living.action == "not_found" and living.referral["id"] == "ref.nguoi-co-cong"
    died = shipped.match("bố tôi là thương binh mới mất thì làm mai táng phí ở đâu")
    assert died.action == "answer" and died.procedure["code"] == "local.mai-tang-nguoi-co-cong"


def test_asking_for_a_death_extract_is_a_copy_not_a_registration(shipped):
    decision = shipped.match("xin trích lục khai tử của ba tui cần mang giấy gì")
    assert decision.action == "answer" and decision.procedure["code"] == "2.000635"


def test_a_purpose_said_the_southern_way_is_a_purpose():
    utt = Utterance.of("tui muốn tách hộ riêng ra đặng xin xét hộ nghèo")
    assert clause_before_purpose(utt).toned == ("tui", "muốn", "tách", "hộ", "riêng", "ra")


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # "con nít" is "trẻ em": a child's căn cước
        ("làm căn cước cho con nít có tốn tiền hông", "1.014062"),
        # "cắt tiền trợ cấp" is "thôi hưởng": the allowance stopped, not the death registered
        ("ông ngoại tui mất rồi thì báo cắt tiền trợ cấp ở đâu", "1.001776"),
        # "tên lót" is the South's "tên đệm"
        ("hồi đó khai sanh ghi tên tui có hai chữ giờ muốn thêm tên lót vô", "1.004859"),
    ],
)
def test_everyday_words_for_a_child_a_stopped_allowance_and_a_middle_name(shipped, question, code):
    assert shipped.match(question).candidates[0].code == code


def test_a_paper_named_after_a_word_of_copying_is_the_thing_copied():
    utt = Utterance.of("phô tô giấy chứng nhận quyền sử dụng đất rồi mang lên xã chứng thực")
    assert copied_papers(utt) == {"giấy chứng nhận quyền sử dụng đất"}  # the first word counts
    assert copied_papers(Utterance.of("làm sổ đỏ lần đầu có cần công chứng không")) == set()


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # the land certificate being copied is held: not a first land registration
        ("photo sổ đỏ xong đem ra xã chứng thực mất mấy ngày", "2.000815"),
        ("làm sổ đỏ lần đầu có cần công chứng giấy tờ không", "1.013978"),
        # "sắp hết … xin ở thêm" is an extension
        ("tạm trú của mấy đứa thuê trọ sắp hết rồi xin ở thêm thì làm sao", "1.002755"),
        # living together unmarried, a baby, the father's name: birth with recognition
        ("hai đứa ở với nhau chưa cưới giờ có em bé làm khai sinh có tên ba", "1.000689"),
        ("bà nội muốn làm giám hộ cho cháu mồ côi", "1.004837"),
    ],
)
def test_round_25_copies_extensions_unmarried_parents_and_guardians(shipped, question, code):
    assert shipped.match(question).candidates[0].code == code


def test_boarding_school_rice_money_is_asked_at_the_school(shipped):
    decision = shipped.match("tiền gạo bán trú cho con bao giờ có")
    assert decision.action == "not_found" and decision.referral["id"] == "ref.hoc-phi"


def test_a_bank_card_lost_is_not_a_death_registered_again(shipped):
    # "mất" and "làm lại" alone read as a death registered again; the card says otherwise
    decision = shipped.match("thẻ atm mất rồi làm lại ở đâu")
    assert decision.action == "not_found" and decision.referral["id"] == "ref.the-ngan-hang"


def test_a_record_lost_is_not_a_death(shipped):
    # "sổ ở xã đã mất hết": the book is lost; nobody died, so not a death registered again
    question = "bà tôi có khai sinh hồi xưa mà sổ ở xã đã mất hết giờ đăng ký lại thế nào"
    assert all(word != "khai tử" for word, _, _ in official_words(Utterance.of(question)))
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == "1.004884"
    died = official_words(Utterance.of("bà tôi đã mất rồi làm giấy chứng tử ở đâu"))
    assert "khai tử" in {word for word, _, _ in died}


def test_an_id_card_held_is_the_papers_of_a_late_birth_registration(shipped):
    question = "bà nội tôi có căn cước mà hồi xưa không làm khai sinh giờ làm được không"
    assert ("giấy tờ cá nhân", 3, 6) in official_words(Utterance.of(question))
    assert shipped.match(question).candidates[0].code == "1.004772"
    # a card not held is not
    assert official_words(Utterance.of("mẹ tôi chưa có căn cước bao giờ")) == []


@pytest.mark.parametrize(
    ("question", "card"),
    [
        ("căn cước của tôi ghi sai quê quán muốn đổi lại", True),
        ("đổi tên rồi thì thẻ căn cước có phải đổi theo không", True),
        ("tui mới cải chính tên trong giấy khai sinh rồi giờ đổi căn cước", True),
        ("can cuoc ghi sai ngay sinh doi the khac duoc khong", True),
        ("giấy khai sinh ghi sai tên so với căn cước muốn sửa", False),  # the record is wrong
        ("căn cước ghi dân tộc kinh muốn xác định lại dân tộc trong giấy khai sinh", False),
    ],
)
def test_says_card_changed_when_the_card_is_what_must_change(question, card):
    assert says_card_changed(Utterance.of(question)) is card


def test_a_wrong_card_is_changed_not_the_civil_status_record(shipped):
    decision = shipped.match("căn cước in sai ngày sinh của tôi thì làm lại thế nào")
    assert decision.candidates[0].code == "1.014063"
    record = shipped.match("giấy khai sinh ghi sai ngày sinh muốn sửa lại")
    assert record.candidates[0].code == "1.004859"


@pytest.mark.parametrize(
    ("question", "damaged"),
    [
        ("thẻ căn cước bị gãy đôi rồi đổi thẻ mới", True),
        ("căn cước gắn chip của tui bị cong hư chip rồi đổi cái mới sao", True),
        ("the can cuoc bi mo het chu muon doi the moi", True),  # toneless, after "bị"
        ("the can cuoc cu troc het lop nhua", True),  # "troc" is damage without "bị"
        ("căn cước còn hạn thì có phải đổi không", False),  # "còn" is not "cong"
        ("can cuoc hong co thi lam sao", False),  # Southern "hông", not "hỏng"
        ("tôi đủ sáu mươi tuổi có phải đổi căn cước không", False),
        ("nhà bị hỏng mái mà căn cước vẫn còn", False),  # the damage is said before the card
    ],
)
def test_says_card_damaged(question, damaged):
    assert says_card_damaged(Utterance.of(question)) is damaged


@pytest.mark.parametrize(
    "question",
    [
        "thẻ căn cước bị gãy đôi rồi đổi thẻ mới cần mang gì",
        "cái thẻ căn cước của tui bể làm hai rồi đổi cái mới sao đây",
        "the can cuoc bi hong chip doi the moi",
    ],
)
def test_a_damaged_card_is_reissued_not_exchanged(shipped, question):
    # Luật Căn cước 2023 art. 24(2)(a): a card "bị hư hỏng không sử dụng được" is re-issued
    # (cấp lại), whatever verb the villager uses; the exchange is for age and changed details.
    assert shipped.match(question).candidates[0].code == "1.014064"
    assert (
        shipped.match("năm nay tôi đủ bốn mươi tuổi có phải đổi căn cước không").candidates[0].code
        == "1.014063"
    )


@pytest.mark.parametrize(
    ("question", "before"),
    [
        ("khai sinh xong thì được nhận cái gì có được bản sao luôn không", "khai sinh"),
        ("khai tu xong thi duoc nhan giay gi", "khai tu"),
        ("mần khai sinh cho con xong thì được cấp những giấy chi", "mần khai sinh cho con"),
        # not a result: what is to be done next
        ("vừa đổi tên ở xã xong thì có phải đổi lại căn cước không", None),
        # "chị" (an older sister) is not "chi" (what)
        ("làm khai sinh xong thì thẻ bảo hiểm phải lên xã lấy thế chị", None),
        # nothing said before it
        ("xong thì được nhận giấy gì", None),
    ],
)
def test_clause_before_result(question, before):
    clause = clause_before_result(Utterance.of(question))
    assert (clause and " ".join(clause.toned)) == before


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("khai sinh xong thì được nhận cái gì có được bản sao luôn không", "1.001193"),
        ("khai sinh xong thì được cấp những giấy gì có kèm bản sao không", "1.001193"),
        ("đăng ký kết hôn xong thì được nhận giấy gì mỗi người một bản phải không", "1.000894"),
        ("ho ngheo duoc cong nhan xong thi duoc huong nhung gi", "1.011607"),
    ],
)
def test_what_a_procedure_gives_is_asked_of_the_procedure_before_xong_thi(shipped, question, code):
    # the copy named after "xong thì" is part of the result, not the copying procedure
    decision = shipped.match(question)
    assert (decision.action, decision.procedure["code"], decision.category) == (
        "answer",
        code,
        "result",
    )


def test_a_result_asked_of_a_procedure_with_a_sister_asks_back_between_them(shipped):
    # "nhận lại" is not "đăng ký lại": the box asks rather than answer the re-registration
    decision = shipped.match("khai tử xong thì gia đình được nhận lại giấy gì")
    assert decision.action == "clarify"
    assert decision.candidates[0].code == "1.000656"


@pytest.mark.parametrize(
    ("question", "after"),
    [
        ("ông hàng xóm mới mất thì ai đi khai tử cho ông", "đi khai tử cho ông"),
        ("ong ngoai tui mat roi ai di khai tu duoc hong", "di khai tu duoc hong"),
        ("bị chó cắn thì ai", None),
        ("mẹ tôi mất rồi thì làm khai tử ở đâu", None),
    ],
)
def test_clause_after_who(question, after):
    clause = clause_after_who(Utterance.of(question))
    assert (clause and " ".join(clause.toned)) == after


@pytest.mark.parametrize(
    "question",
    [
        "ông hàng xóm sống một mình mới mất thì ai đi khai tử cho ông",
        "bà cụ hàng xóm sống một mình mới mất không có con cháu thì ai đi khai tử cho bà",
        "bà cụ hàng xóm mất không có con cháu gì thì ai đi báo tử cho bà",
    ],
)
def test_who_registers_a_lonely_neighbours_death_is_a_death_registration(shipped, question):
    # "sống một mình", "không có con cháu" describe who gets a social allowance; the
    # question after "thì ai" is the death registration
    decision = shipped.match(question)
    assert (decision.action, decision.procedure["code"]) == ("answer", "1.000656")


def test_who_does_it_needs_the_procedure_put_forward_by_the_whole_question(shipped):
    # too few words after "thì ai" to be read alone: "con ruột" must not become a parent
    # recognised
    decision = shipped.match("khai tu thi ai di khai cung duoc hay phai con ruot")
    assert decision.action == "clarify"
    assert decision.candidates[0].code == "1.000656"


@pytest.mark.parametrize(
    ("question", "only"),
    [
        ("bà cụ hàng xóm mới mất thì ai đi khai tử cho bà", True),
        ("ông mất rồi khai tử xong có được nhận tiền mai táng không", False),
        ("mẹ tôi mất rồi có phải báo cắt trợ cấp không", False),
        ("cụ ông đứng ra khai tử cho vợ", True),  # "đứng ra" is not "dừng" (stop)
        ("hướng dẫn giùm làm khai tử cho bà cụ", True),  # "hướng" is not "hưởng" (receive)
        ("mẹ tôi đang hưởng trợ cấp mới mất thì khai tử xong báo ở đâu", False),
    ],
)
def test_says_death_registration_only(question, only):
    assert says_death_registration_only(Utterance.of(question)) is only


def test_a_paper_to_bring_along_is_needed_not_asked(shipped):
    decision = shipped.match(
        "ờ cái giấy chứng sinh bệnh viện cho rồi thì lên xã làm giấy khai sinh có cần mang "
        "theo giấy đăng ký kết hôn không"
    )
    assert (decision.action, decision.procedure["code"]) == ("answer", "1.001193")


@pytest.mark.parametrize(
    ("question", "side"),
    [
        ("ông cụ mất hơn một năm rồi mà chưa khai tử", "death"),
        ("chưa đăng ký kết hôn mà sinh con giờ làm khai sinh", "living"),
        ("vợ mất khi sinh con giờ làm khai sinh cho con và khai tử cho vợ", None),
        ("làm căn cước cho con", None),
    ],
)
def test_life_side_named(question, side):
    assert life_side_named(Utterance.of(question)) == side


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # a late death registration, not a late birth registration for an old person
        (
            "dạ mẹ chồng em mất mười năm rồi mà chưa ai đi khai tử giờ em đi làm có được không ạ",
            "1.000656",
        ),
        # a death registered again, not a birth registered again
        ("sổ gốc mất rồi mần lại giấy khai tử có tốn tiền không", "1.005461"),
        (
            "ngày xưa có đăng ký khai sinh rồi nhưng sổ hộ tịch bị mất giờ muốn đăng ký lại",
            "1.004884",
        ),
    ],
)
def test_a_death_is_not_a_birth_nor_the_other_way_round(shipped, question, code):
    assert shipped.match(question).candidates[0].code == code


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # catalogue v5 aliases: how villagers name these two
        ("thằng em tui bị tâm thần tui muốn làm giám hộ cho nó thì có tốn tiền hông", "1.004837"),
        ("vừa khai sinh vừa nhận cha cho con mới đẻ cần giấy tờ gì", "1.000689"),
    ],
)
def test_guardianship_for_the_mentally_ill_and_birth_with_a_father_recognised(
    shipped, question, code
):
    assert shipped.match(question).candidates[0].code == code


def test_a_card_misprinted_as_well_as_worn_is_not_only_damaged(shipped):
    # a misprint is exchanged (cấp đổi); worn as well, the box asks between the two
    question = "thẻ căn cước bị mờ chữ với sai ngày sinh thì đổi thẻ thế nào"
    assert says_card_damaged(Utterance.of(question)) is False
    decision = shipped.match(question)
    assert decision.action == "clarify"
    assert decision.candidates[0].code == "1.014063"


def test_the_whole_question_says_whose_life_when_a_paper_held_is_left_out(shipped):
    # "có làm giấy khai sinh" is read as a paper held and left out of the second ranking;
    # the birth it names still says that the record lost is a birth's, not a death's
    decision = shipped.match(
        "hồi đó má tui có làm giấy khai sinh cho tui mà cháy nhà mất rồi xã cũng hổng còn sổ "
        "làm lại tốn bao nhiêu"
    )
    assert (decision.action, decision.procedure["code"]) == ("answer", "1.004884")


def test_a_paper_needed_for_a_purpose_a_few_words_on_is_wanted(shipped):
    # "cần giấy … cho má để làm hồ sơ thừa kế": the paper is what is asked, not its purpose
    question = (
        "tui cần giấy xác nhận thông tin hộ tịch cho má để làm hồ sơ hưởng thừa kế có tốn tiền hông"
    )
    assert papers_held_or_needed(Utterance.of(question)) == set()
    decision = shipped.match(question)
    assert (decision.action, decision.procedure["code"]) == ("answer", "2.002516")


def test_the_social_pension_is_for_the_living_too(shipped):
    decision = shipped.match("ông cụ nhà tôi tám mươi chín tuổi mất rồi báo tử ở đâu")
    assert decision.action == "clarify"
    assert decision.candidates[0].code == "1.000656"


def test_who_does_it_needs_the_procedure_named_after_thi_ai(shipped):
    # the whole question answers the death registration; "đi khai cũng được hay phải con
    # ruột" after "thì ai" names no procedure, so it must not turn the answer into a
    # parent recognised ("con")
    decision = shipped.match("khai tu cho ong ngoai thi ai di khai cung duoc hay phai con ruot")
    assert (decision.action, decision.procedure["code"]) == ("answer", "1.000656")


def test_a_paper_not_held_is_why_they_ask_not_what(shipped):
    # round 34: renting without a land title, the question is permanent residence
    decision = shipped.match("nhà tôi ở thuê không có sổ đỏ thì có đăng ký thường trú được không")
    assert decision.action == "answer"
    assert decision.procedure["code"] == "1.004222"


@pytest.mark.parametrize(
    "question",
    [
        # a birth record not held is what is asked: the late registration for people who
        # have other papers stays among what is offered
        "mệ tui chín mươi tuổi có căn cước mà không có giấy khai sinh làm mất mấy ngày",
        "ông già tui tám mươi lăm tuổi có căn cước mà hổng có giấy khai sanh làm được hông",
    ],
)
def test_a_birth_record_not_held_is_what_is_asked(shipped, question):
    codes = [c.code for c in shipped.match(question).candidates[:3]]
    assert "1.004772" in codes


def test_a_household_registration_left_for_later_is_not_asked(shipped):
    question = (
        "cháu đẻ ra rồi tôi chỉ cần làm khai sinh với thẻ bảo hiểm y tế cho cháu thôi còn hộ"
        " khẩu thì chưa nhập"
    )
    assert shipped.match(question).candidates[0].code == "2.001023"


def test_land_held_without_dispute_is_not_a_dispute(shipped):
    # round 35: "không tranh chấp" is the first land title's condition
    question = "dat khong co giay to gi nhung o on dinh khong tranh chap thi co cap so duoc khong"
    assert shipped.match(question).candidates[0].code == "1.013978"
    dispute = shipped.match("hàng xóm tranh chấp đất không chịu hòa giải thì làm sao")
    assert dispute.candidates[0].code == "1.012812"


def test_a_long_story_is_asked_of_what_the_villager_wants(shipped):
    # round 35: the whole story places nothing; what follows "muốn" names the death
    question = (
        "anh trong tổ bảo vệ rừng bị cây đổ đè chết mấy hôm trước gia đình muốn khai tử thì"
        " nộp ở đâu"
    )
    decision = shipped.match(question)
    assert decision.action in ("answer", "clarify")
    assert decision.candidates[0].code == "1.000656"


@pytest.mark.parametrize(
    "question",
    [
        # round 37: the child's birth is registered already, so the father recognises it;
        # "chưa" before the wedding is not about the birth
        "anh kia có con với em gái tôi mà chưa cưới cháu có khai sinh rồi giờ anh ấy muốn nhận"
        " con thì cần giấy gì",
        "thằng bé nhà tôi lên năm rồi giấy khai sinh để trống tên bố giờ bố nó muốn nhận con thì"
        " làm sao",
        "thằng cháu nhà tôi mười tuổi rồi khai sinh chỉ có tên mẹ giờ bố nó về muốn nhận con thì"
        " làm thế nào",
    ],
)
def test_a_father_recognising_a_registered_child(shipped, question):
    assert shipped.match(question).candidates[0].code == "1.001022"


def test_a_not_yet_in_the_clause_before_is_not_about_the_registration():
    said = Utterance.of("có con với em gái tôi mà chưa cưới cháu có khai sinh rồi")
    assert ("khai", "sinh") in things_done(said)
    assert ("khai", "sinh") not in things_never_done(said)
    # and the "chưa" that is about it still counts
    assert ("khai", "sinh") not in things_done(Utterance.of("con chưa có khai sinh rồi sao"))


@pytest.mark.parametrize(
    ("question", "code"),
    [
        # round 38: the newborn's bundle holds residence (2.000986) only when residence is
        # asked among its parts, not when said lacking or left for later (2.001023)
        ("làm khai sinh với thẻ bảo hiểm y tế cho con một lần thì mang theo những gì", "2.001023"),
        (
            "vợ chồng em ở trọ chưa nhập khẩu được chỉ muốn khai sinh với làm thẻ bảo hiểm cho con"
            " cùng lúc",
            "2.001023",
        ),
        (
            "con em mới sanh em muốn làm khai sanh với thẻ bảo hiểm y tế cho nó luôn còn hộ khẩu"
            " thì để sau",
            "2.001023",
        ),
        ("khai sinh kèm nhập hộ khẩu kèm thẻ bảo hiểm cho cháu bao lâu thì xong", "2.000986"),
        ("lam khai sinh cho con kem nhap khau va the bao hiem y te mat bao lau", "2.000986"),
        ("bao lâu thì có đủ khai sinh thẻ bảo hiểm với nhập khẩu cho cháu", "2.000986"),
    ],
)
def test_the_newborn_bundle_holds_residence_when_asked_among_its_parts(shipped, question, code):
    assert shipped.match(question).candidates[0].code == code


def test_residence_in_bundle():
    assert residence_in_bundle(Utterance.of("nhập khẩu cho con mới sinh")) is None  # no bundle
    # "thường trú" misheard, after a second "đăng ký" between the parts
    assert residence_in_bundle(Utterance.of("khai sinh đăng ký thường chú với bảo hiểm")) is True
    assert residence_in_bundle(Utterance.of("khai sinh với bảo hiểm y tế hộ khẩu có rồi")) is False
    said = Utterance.of("ở trọ chưa nhập khẩu muốn làm khai sinh với bảo hiểm")
    assert residence_in_bundle(said) is False


def test_thu_tuc_says_a_procedure_is_asked_not_which(shipped):
    # round 38: "thủ tục" counts as little as other talk words on the question's side
    assert shipped.match("thủ tục khai tử theo quy định nào").candidates[0].code == "1.000656"
    question = "bố tôi mới mất thì làm thủ tục khai tử thế nào"
    assert shipped.match(question).candidates[0].code == "1.000656"
    question = "anh ấy muốn làm thủ tục nhận con thì cần giấy gì"
    assert shipped.match(question).candidates[0].code == "1.001022"


@pytest.mark.parametrize(
    "question",
    [
        # round 40: a boat gone quiet at sea, a wall fallen on people, a fire running over
        "ghe ông tư ra khơi chiều qua bão tới giờ mất liên lạc rồi",
        "ông ơi tường nhà thờ họ bên kia đổ đè người",
        "chú ơi lửa từ nương bên kia chạy sang gần mấy nóc nhà rồi",
    ],
)
def test_emergencies_of_round_40(shipped, question):
    assert shipped.match(question).action == "emergency"


def test_leaving_the_household_without_tones_is_not_going_to_sea(shipped):
    # "ra khoi" without tones is "ra khỏi" (leaving), not "ra khơi"
    decision = shipped.match("ra khoi ho khau roi mat lien lac voi gia dinh thi lam sao")
    assert decision.action != "emergency"


def test_what_a_procedure_gives_asked_plainly(shipped):
    # round 40: "xong thì được cái gì" asks the result of the procedure before it
    question = "lam khai sinh xong thi duoc cai gi co duoc ban sao luon khong"
    assert clause_before_result(Utterance.of(question)) is not None
    assert shipped.match(question).candidates[0].code == "1.001193"


def test_a_certificate_asked_as_needed_without_giay(shipped):
    # round 40: "có cần xin xác nhận độc thân không" before a marriage
    question = "ket hon co can xin xac nhan doc than khong hay chi can can cuoc la du"
    assert shipped.match(question).candidates[0].code == "1.000894"


@pytest.mark.parametrize(
    "question",
    [
        # round 41: an ill farm animal is for the vet, not 113/115
        "con trâu nhà tôi mấy hôm nay ốm bỏ ăn sùi bọt mép thì gọi ai hở cô",
        "con bò nhà tui bị lở mồm chừ gọi ai",
        "con heo nái nhà tui bỏ ăn sốt cao mấy bữa nay kêu ai chích",
        "trau nha toi bi lo mom long mong goi ai",
        # "bị thương lái quỵt": a trader cheated, nobody hurt
        "dạ tiền bán lúa bị thương lái quỵt thì nhờ xã đòi được không",
    ],
)
def test_no_emergency_for_an_ill_animal_or_a_trader(shipped, question):
    assert shipped.match(question).action != "emergency"


@pytest.mark.parametrize(
    "question",
    [
        # the person is what the signs are about, or the animal did the harm or is a place
        "con trâu húc ông tôi ngã nằm im rồi",
        "thằng bé bị chó cắn chảy máu nhiều lắm",
        "bà ấy uống cái chai gì để sau chuồng lợn mùi hắc lắm sùi bọt mép giật giật người",
        "ông tôi đang chăn bò thì đá trên núi lăn xuống đè vào chân không rút ra được",
        "cháy chuồng bò rồi lửa lan sang nhà",  # a fire is a fire, whatever burns
        "bị thương nặng lắm chảy máu",
    ],
)
def test_emergencies_beside_an_animal_stay_emergencies(shipped, question):
    assert shipped.match(question).action == "emergency"


def test_a_tenant_gone_is_reported_for_removal(shipped):
    # round 41: "báo xóa tạm trú" is the removal, not the registration "báo tạm trú"
    question = "mấy đứa thuê trọ nhà tôi đi hết rồi chủ trọ có phải báo xóa tạm trú cho chúng nó"
    assert shipped.match(question).candidates[0].code == "1.010028"


def test_a_guardian_no_longer_needed(shipped):
    # round 41: "tui hết làm giám hộ" ends the guardianship; the mother takes the child back
    question = "má ruột của đứa nhỏ đi làm về rồi muốn nhận lại con thì tui hết làm giám hộ làm sao"
    decision = shipped.match(question)
    assert decision.action == "answer" and decision.procedure["code"] == "1.004845"


@pytest.mark.parametrize(
    "question",
    [
        # round 42: a question broken off with a hesitation, a cry, a toneless "à thôi"
        "dạ em muốn hỏi làm giấy khai sinh mà ơ ơ vợ em đau bụng ra máu nhiều lắm ở nhà",
        "dạ cho hỏi làm giấy ơ chết chết xe tải đâm xe máy ngay cổng ủy ban người nằm đường",
        "cho hoi thu tuc xin khai sinh a thoi nguoi ta dang danh nhau co dao o cong xa",
        # water up to the roof, a pump's current, a threat to burn a house
        "nuoc len to qua ca nha dang o tren mai khong ra duoc",
        "chị ơi cái máy bơm ngoài ruộng giật chồng em nằm đó rồi không dậy",
        "co thang say ruou cam can xang doa dot nha",
    ],
)
def test_emergencies_of_round_42(shipped, question):
    assert shipped.match(question).action == "emergency"


@pytest.mark.parametrize(
    "question",
    [
        "làm khai sinh cho con mà ờ cần mang giấy gì",  # a hesitation, nothing going on
        "thoi gian lam khai sinh mat bao lau",  # toneless "thoi" is "thời" here
        "máy giặt nhà tôi hỏng thì gọi ai sửa",
    ],
)
def test_round_42_breaks_need_something_going_on(shipped, question):
    assert shipped.match(question).action != "emergency"


@pytest.mark.parametrize(
    "question",
    [
        "con chua co giay khai sinh bo me chua cuoi thi lam khai sinh co ten ca bo duoc khong",
        "con moi de chua co giay khai sinh bo me chua cuoi lam khai sinh ghi luon ten bo o dau",
    ],
)
def test_a_child_without_a_birth_certificate_and_its_father(shipped, question):
    # round 42: "chưa có giấy khai sinh" said of a baby, with the father named, is the birth
    # registered with the father recognised, not a grown-up's late registration
    decision = shipped.match(question)
    assert decision.procedure is not None and decision.procedure["code"] == "1.000689"


def test_late_registration_words_are_for_grown_ups_only():
    late = "khai sinh cho người đã có hồ sơ giấy tờ cá nhân"
    grown_up = Utterance.of("ông tôi bảy mươi tuổi chưa có giấy khai sinh")
    assert late in [w for w, _, _ in official_words(grown_up)]
    for child in (
        "cháu ngoại tôi hai tháng tuổi chưa có giấy khai sinh",
        "con mới đẻ chưa có giấy khai sinh",
        "con chưa có giấy khai sinh bố muốn ghi tên bố",
    ):
        assert late not in [w for w, _, _ in official_words(Utterance.of(child))]


def test_a_scholarship_for_an_ethnic_minority_pupil_is_referred(shipped):
    # round 42: "dân tộc" here is who the scholarship is for, not a record to correct
    decision = shipped.match("con tui thi đỗ đại học muốn xin học bổng cho người dân tộc thái")
    assert decision.action == "not_found" and decision.referral is not None
    assert decision.referral["id"] == "ref.hoc-phi"
