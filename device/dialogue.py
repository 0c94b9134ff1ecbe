"""The conversation with one villager, in text: what the box says after each thing heard.

The voice loop wraps this same engine (text in from the recogniser, text out to the speech
synthesiser), so everything a conversation needs is decided here: the greeting, the menu of
a procedure, asking back between close candidates, "nói lại" / "chậm lại" / "quay lại" /
"cảm ơn" at any time, referral to the one-stop counter after two misunderstandings, where to
ask about matters handled elsewhere (the catalogue's referrals), the emergency numbers, and
one satisfaction question at the end. Every turn is recorded with what the usage reports
need (procedure, category, action, confidence, how the session ended).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hoixa.contract.catalogue import Procedure, Referral, spoken_name
from hoixa.contract.messages import utc_now
from hoixa.device import answers
from hoixa.device.config import DeviceConfig
from hoixa.device.intents import (
    EMERGENCY_NUMBERS,
    Utterance,
    detect_command,
    detect_section_name,
    detect_yes_no,
)
from hoixa.device.matcher import CLARIFY_MIN_SCORE, Candidate, Matcher
from hoixa.spoken import to_spoken

# What the engine is waiting for.
QUESTION, SECTION, CHOICE, CONFIRM, SATISFACTION, ENDED = (
    "question",
    "section",
    "choice",
    "confirm",
    "satisfaction",
    "ended",
)
MAX_MISUNDERSTANDINGS = 2  # the second one in a row sends the person to the counter
_NUMBER_WORDS = {
    "một": 1,
    "nhất": 1,
    "đầu": 1,
    "hai": 2,
    "nhì": 2,
    "ba": 3,
    "bốn": 4,
    "tư": 4,
    "năm": 5,
    "sáu": 6,
    "bảy": 7,
    "bẩy": 7,
}
_NUMBER_FOLDED = {"mot": 1, "nhat": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "sau": 6, "bay": 7}


@dataclass(frozen=True)
class Reply:
    """What the box says now, and how."""

    text: str  # already in words (numbers, money, abbreviations written out)
    action: str
    slow: bool = False
    procedure: str | None = None  # code
    category: str | None = None
    expects: str = QUESTION
    ended: bool = False


@dataclass
class TurnRecord:
    heard: str
    action: str
    procedure: str | None
    category: str | None
    confidence: float
    candidates: list[str]
    # Filled in by the voice loop when the turn came from the microphone:
    asr_confidence: float | None = None
    audio_problem: str | None = None  # "silence", "too_short", "clipped", "too_quiet", "too_long"
    latency_ms: dict[str, float] = field(default_factory=dict)  # asr_final, match, first_audio


@dataclass
class SessionRecord:
    """What a usage report needs about one conversation."""

    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: str = field(default_factory=utc_now)
    ended_at: str | None = None
    turns: list[TurnRecord] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    termination: str | None = None  # "thanks" | "referred" | "emergency" | "abandoned"
    satisfaction: str | None = None  # "satisfied" | "unsatisfied" | None (not answered)
    satisfaction_by: str | None = None  # "voice" | "button"


def _number_in(utt: Utterance) -> int | None:
    """A menu or candidate number said alone ("hai", "số hai", "cái thứ hai", "2")."""
    if not 0 < len(utt) <= 4:
        return None
    for toned, folded in zip(utt.toned, utt.folded, strict=True):
        if toned.isdigit():
            return int(toned)
        if utt.has_tones and toned in _NUMBER_WORDS:
            return _NUMBER_WORDS[toned]
        if not utt.has_tones and folded in _NUMBER_FOLDED:
            return _NUMBER_FOLDED[folded]
    return None


class Dialogue:
    """One conversation. Create a new one for each villager (each press of the button)."""

    def __init__(self, matcher: Matcher, config: DeviceConfig):
        self.matcher = matcher
        self.config = config
        self.record = SessionRecord()
        self.state = QUESTION
        self.slow = False
        self.current: Procedure | None = None
        self.candidates: list[Candidate] = []
        self.pending_category: str | None = None  # asked together with an unclear procedure
        self.misunderstood = 0  # in a row
        self.satisfaction_asks = 0
        self.last: Reply | None = None
        self._ending = "thanks"

    # -- speaking -------------------------------------------------------------------------

    def _say(self, text: str, action: str, *, expects: str | None = None, category=None) -> Reply:
        reply = Reply(
            text=to_spoken(text),
            action=action,
            slow=self.slow,
            procedure=self.current["code"] if self.current else None,
            category=category,
            expects=expects or self.state,
            ended=self.state == ENDED,
        )
        if action not in ("repeat", "slower", "audio_problem"):
            self.last = reply
        return reply

    def _log(self, heard: str, action: str, category=None, confidence=0.0, candidates=()) -> None:
        code = self.current["code"] if self.current else None
        self.record.turns.append(
            TurnRecord(
                heard, action, code, category, round(confidence, 3), [c.code for c in candidates]
            )
        )
        if code and action == "answer" and code not in self.record.procedures:
            self.record.procedures.append(code)
        if category and category not in self.record.categories:
            self.record.categories.append(category)

    # -- public ---------------------------------------------------------------------------

    def start(self) -> Reply:
        text = (
            f"Xin chào bác. Đây là máy hỏi đáp thủ tục hành chính của {self.config.commune_name}. "
            "Bác hãy nói việc cần hỏi, ví dụ: làm giấy khai sinh, đăng ký kết hôn, "
            "hoặc chứng thực bản sao. Muốn nghe lại, bác nói: nói lại. "
            "Muốn nghe chậm hơn, bác nói: chậm lại."
        )
        return self._say(text, "greeting", expects=QUESTION)

    def _close(self) -> None:
        self.state = ENDED
        self.record.ended_at = utc_now()

    def abandon(self) -> None:
        """The person walked away (the voice loop timed out): close the record."""
        if self.state != ENDED:
            self.record.termination = self.record.termination or "abandoned"
            self._close()

    def handle(self, heard: str) -> Reply:
        """Answer one utterance. Empty text means nothing intelligible was heard."""
        if self.state == ENDED:
            raise RuntimeError("this conversation has ended; start a new Dialogue")
        utt = Utterance.of(heard)
        command = detect_command(utt)
        if command == "repeat" and self.last:
            self._log(heard, "repeat")
            return self._say(self.last.text, "repeat", expects=self.last.expects)
        if command == "slower" and self.last:
            self.slow = True
            self._log(heard, "slower")
            text = "Vâng, tôi nói chậm lại. " + self.last.text
            return self._say(text, "slower", expects=self.last.expects)
        if self.state == SATISFACTION:
            return self._satisfaction(heard)
        if command == "back":
            return self._back(heard)
        if command == "end":
            self._log(heard, "end")
            return self._finish("thanks")
        if self.state == CHOICE:
            return self._choice(heard, utt)
        if self.state == CONFIRM:
            return self._confirm(heard, utt)
        if self.state == SECTION:
            reply = self._section_choice(heard, utt)
            if reply:
                return reply
        return self._question(heard)

    # -- states ---------------------------------------------------------------------------

    def _question(self, heard: str) -> Reply:
        decision = self.matcher.match(heard)
        if decision.action == "emergency":
            self._log(heard, "emergency")
            return self._emergency(decision.emergency or "rescue")
        if decision.action == "answer":
            return self._select(heard, decision.procedure, decision.category, decision.confidence)
        if decision.referral:
            return self._referral(heard, decision.referral, decision.confidence)
        if decision.category and self.current is not None:
            # "Hết bao nhiêu tiền?" right after hearing about a procedure: that procedure.
            return self._answer_section(heard, decision.category, decision.confidence)
        if decision.action == "clarify":
            return self._clarify(heard, list(decision.candidates), decision.category)
        return self._not_understood(heard, decision.category)

    def _select(
        self, heard: str, proc: Procedure, category: str | None, confidence: float
    ) -> Reply:
        self.current = proc
        self.misunderstood = 0
        self.candidates = []
        if category:
            return self._answer_section(heard, category, confidence)
        self.state = SECTION
        self._log(heard, "menu", None, confidence)
        return self._say(answers.render_menu(proc), "menu")

    def _answer_section(self, heard: str, section: str, confidence: float = 1.0) -> Reply:
        assert self.current is not None
        self.state = SECTION
        self.misunderstood = 0
        self._log(heard, "answer", section, confidence)
        body = answers.render_section(self.current, section, self.config)
        follow = (
            "Bác muốn nghe phần khác thì nói tên phần đó, hỏi thủ tục khác, "
            "hoặc nói cảm ơn để kết thúc."
        )
        if len(self.record.turns) > 2:
            follow = "Bác hỏi tiếp, hoặc nói cảm ơn để kết thúc."
        return self._say(f"{body} {follow}", "answer", category=section)

    def _section_choice(self, heard: str, utt: Utterance) -> Reply | None:
        """A number or a bare section name right after the menu; None if it is neither."""
        assert self.current is not None
        number = _number_in(utt)
        section = answers.section_by_number(self.current, number) if number else None
        section = section or detect_section_name(utt)
        return self._answer_section(heard, section) if section else None

    def _clarify(self, heard: str, candidates: list[Candidate], category: str | None) -> Reply:
        self.candidates = candidates
        self.pending_category = category
        names = [spoken_name(self.matcher.procedure(c.code)) for c in candidates]
        self._log(heard, "clarify", category, candidates[0].score, candidates)
        if len(candidates) == 1:
            self.state = CONFIRM
            text = f"Có phải bác hỏi về thủ tục {names[0]} không? Bác nói có, hoặc không."
            return self._say(text, "clarify")
        self.state = CHOICE
        options = " ".join(
            answers.sentence(f"Số {answers.count_word(i)}: {name}")
            for i, name in enumerate(names, 1)
        )
        text = f"Bác hỏi thủ tục nào? {options} Bác nói số, hoặc nói lại tên thủ tục."
        return self._say(text, "clarify")

    def _choice(self, heard: str, utt: Utterance) -> Reply:
        number = _number_in(utt)
        if number and 1 <= number <= len(self.candidates):
            chosen = self.candidates[number - 1]
            proc = self.matcher.procedure(chosen.code)
            return self._select(heard, proc, self.pending_category, chosen.score)
        among = {c.code for c in self.candidates}
        ranked = self.matcher.rank(utt, among=among)
        if (
            ranked
            and ranked[0].score >= CLARIFY_MIN_SCORE
            and (len(ranked) == 1 or ranked[0].score - ranked[1].score > 0.05)
        ):
            proc = self.matcher.procedure(ranked[0].code)
            return self._select(heard, proc, self.pending_category, ranked[0].score)
        self.state = QUESTION
        return self._question(heard)

    def _confirm(self, heard: str, utt: Utterance) -> Reply:
        answer = detect_yes_no(Utterance.of(heard, keep_fillers=True))
        if answer is True:
            chosen = self.candidates[0]
            proc = self.matcher.procedure(chosen.code)
            return self._select(heard, proc, self.pending_category, chosen.score)
        self.state = QUESTION
        if answer is False:
            self._log(heard, "rejected")
            self.candidates = []
            text = "Vâng. Bác nói lại tên việc cần làm giúp tôi, nói rõ hơn một chút."
            return self._say(text, "ask_again")
        return self._question(heard)

    def _referral(self, heard: str, referral: Referral, confidence: float) -> Reply:
        """A matter the box knows it does not explain (a passport, a divorce): where to ask.

        Understood, so it does not count as a misunderstanding; the turn carries the
        referral's id, so the usage reports show what villagers ask that is handled elsewhere.
        """
        self.misunderstood = 0
        self.current = None
        self.candidates = []
        self.state = QUESTION
        self.record.turns.append(
            TurnRecord(heard, "referral", referral["id"], None, round(confidence, 3), [])
        )
        text = (
            f"Tôi chưa có hướng dẫn về việc {referral['name']}. "
            f"Việc này bác hỏi ở {referral['where']}."
        )
        if referral.get("note"):
            text += " " + answers.sentence(referral["note"])
        text += " Bác muốn hỏi việc khác thì nói tiếp, hoặc nói cảm ơn để kết thúc."
        return self._say(text, "referral")

    def _not_understood(self, heard: str, category: str | None) -> Reply:
        self.misunderstood += 1
        self.record.not_understood.append(heard)
        self._log(heard, "not_found", category)
        if self.misunderstood >= MAX_MISUNDERSTANDINGS:
            return self._refer()
        if not heard.strip():
            text = "Tôi chưa nghe rõ. Bác nói lại tên việc cần làm giúp tôi."
        else:
            text = (
                "Xin lỗi, tôi chưa hiểu bác hỏi việc gì. Bác nói lại tên việc cần làm, "
                "ví dụ: làm giấy khai sinh, hoặc đăng ký tạm trú."
            )
        self.state = QUESTION
        return self._say(text, "not_found")

    def _refer(self) -> Reply:
        counter = self.config.counter
        text = (
            f"Xin lỗi bác, tôi chưa giúp được việc này. Bác vui lòng hỏi cán bộ ở "
            f"{counter.name}, {counter.location}"
        )
        if counter.phone:
            text += f", hoặc gọi số {counter.phone}"
        return self._finish("referred", prefix=answers.sentence(text))

    def _emergency(self, kind: str) -> Reply:
        first = EMERGENCY_NUMBERS.get(kind)
        lead = {
            "fire": f"Có cháy, bác gọi ngay cứu hỏa số {first}.",
            "medical": f"Có người cần cấp cứu, bác gọi ngay số {first}.",
            "police": f"Bác gọi ngay công an số {first}.",
        }.get(kind, "Bác gọi ngay số khẩn cấp.")
        text = (
            f"{lead} Công an: 113. Cứu hỏa và cứu nạn: 114. Cấp cứu: 115. "
            "Bác cũng báo ngay cho cán bộ xã đang có mặt."
        )
        self.record.termination = "emergency"
        self._close()
        return self._say(text, "emergency", expects="none")

    def _back(self, heard: str) -> Reply:
        self._log(heard, "back")
        self.candidates = []
        if self.current is not None and self.last and self.last.action == "answer":
            self.state = SECTION
            return self._say(answers.render_menu(self.current), "menu")
        self.current = None
        self.state = QUESTION
        return self._say("Vâng. Bác muốn hỏi thủ tục nào?", "back")

    def _finish(self, termination: str, prefix: str = "") -> Reply:
        self.record.termination = termination
        asked = any(
            t.action in ("answer", "menu", "not_found", "clarify", "referral")
            for t in self.record.turns
        )
        if self.config.ask_satisfaction and asked:
            self.state = SATISFACTION
            text = (
                f"{prefix} Bác có hài lòng với câu trả lời không? "
                "Bác nói hài lòng, hoặc không hài lòng."
            ).strip()
            return self._say(text, "satisfaction")
        self._close()
        return self._say(f"{prefix} Cảm ơn bác. Chào bác.".strip(), "goodbye", expects="none")

    def _satisfaction(self, heard: str) -> Reply:
        answer = detect_yes_no(Utterance.of(heard, keep_fillers=True))
        self.satisfaction_asks += 1
        if answer is None and self.satisfaction_asks < 2:
            self._log(heard, "satisfaction_unclear")
            return self._say("Bác nói hài lòng, hoặc không hài lòng.", "satisfaction")
        self.record.satisfaction = {True: "satisfied", False: "unsatisfied"}.get(answer)
        self.record.satisfaction_by = "voice" if answer is not None else None
        self._log(heard, "satisfaction")
        self._close()
        thanks = "Cảm ơn bác đã góp ý." if answer is not None else "Cảm ơn bác."
        return self._say(f"{thanks} Chào bác.", "goodbye", expects="none")

    def satisfaction_by_button(self, satisfied: bool) -> Reply:
        """Some people will not speak: one press means satisfied, two mean not (voice loop)."""
        if self.state != SATISFACTION:
            raise RuntimeError("not waiting for a satisfaction answer")
        reply = self._satisfaction("hài lòng" if satisfied else "không hài lòng")
        self.record.satisfaction_by = "button"
        self.record.turns[-1].heard = ""
        return reply

    def audio_problem(self, problem: str) -> Reply:
        """Advice when the recording itself was unusable; the conversation state is kept.

        Silence and a too-short question go through `handle("")` instead (they count as
        not understood); these are the ones the person can fix by how they speak.
        """
        advice = {
            "clipped": "Bác nói hơi to hoặc đứng gần máy quá. Bác đứng xa ra một chút rồi nói lại.",
            "too_quiet": "Tôi nghe chưa rõ. Bác nói to hơn một chút, gần máy hơn, rồi nói lại.",
            "too_long": "Bác nói ngắn gọn tên việc cần hỏi thôi, ví dụ: làm giấy khai sinh.",
        }.get(problem, "Tôi chưa nghe rõ. Bác nói lại giúp tôi.")
        self._log("", "audio_problem")
        self.record.turns[-1].audio_problem = problem
        return self._say(advice, "audio_problem", expects=self.last.expects if self.last else None)
