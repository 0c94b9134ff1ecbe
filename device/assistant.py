"""Everything the box needs to turn a spoken question into a spoken answer, loaded once.

audio → text (recogniser) → intent and answer (matcher + dialogue) → audio (synthesiser and
answer cache). The voice loop and `hoixa device ask` both go through this one object, so a
recording answered at a desk behaves exactly like a question asked at the box.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hoixa.contract.catalogue import Catalogue
from hoixa.device.asr.base import Recognizer, Transcript
from hoixa.device.asr.select import load_recognizer
from hoixa.device.catalogue_store import open_catalogue
from hoixa.device.config import DeviceConfig
from hoixa.device.dialogue import Dialogue, Reply
from hoixa.device.matcher import Matcher
from hoixa.device.tts.base import Speech, Synthesizer, speak_stream
from hoixa.device.tts.cache import AnswerCache, PrerenderJob, fixed_texts
from hoixa.device.tts.select import load_synthesizer
from hoixa.device.vocabulary import phrases

log = logging.getLogger(__name__)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


@dataclass
class Timings:
    """Milliseconds, each counted from the end of the question's audio (button released)."""

    asr_final_ms: float = 0.0  # final transcript ready
    match_ms: float = 0.0  # understanding and choosing the answer (its own duration)
    first_audio_ms: float = 0.0  # first sentence of the answer ready to play
    total_ms: float = 0.0  # the whole answer synthesised


class Assistant:
    """The box's brain and voice for one catalogue (replaceable while running)."""

    def __init__(
        self,
        config: DeviceConfig,
        catalogue: Catalogue,
        recognizer: Recognizer,
        synthesizer: Synthesizer,
        cache: AnswerCache | None,
    ):
        self.config = config
        self.recognizer = recognizer
        self.synthesizer = synthesizer
        self.cache = cache
        self._prerender: PrerenderJob | None = None
        self.catalogue = catalogue
        self.matcher = Matcher(catalogue)

    @classmethod
    def load(cls, config: DeviceConfig, catalogue: Catalogue | None = None) -> Assistant:
        """Load the box's catalogue (or the given one), recogniser, voice and answer cache."""
        if catalogue is None:
            catalogue, origin = open_catalogue(config.data_dir)
            log.info("catalogue version %s from %s", catalogue["version"], origin)
        recognizer = load_recognizer(config.asr, phrases(catalogue))
        synthesizer = load_synthesizer(config.tts)
        cache = AnswerCache.for_config(config)
        return cls(config, catalogue, recognizer, synthesizer, cache)

    @property
    def catalogue_version(self) -> int:
        return int(self.catalogue["version"])

    def replace_catalogue(self, catalogue: Catalogue) -> None:
        """Answer from a new catalogue from now on; its answers are pre-rendered meanwhile.

        The new matcher is built before anything changes, so a conversation in progress
        never sees a catalogue version without its matcher.
        """
        matcher = Matcher(catalogue)
        self.matcher, self.catalogue = matcher, catalogue
        set_phrases = getattr(self.recognizer, "set_phrases", None)
        if set_phrases:
            set_phrases(phrases(catalogue))
        self.prerender_answers()

    def prerender_answers(self) -> PrerenderJob | None:
        """Render the catalogue's fixed answers into the cache in the background."""
        if self.cache is None:
            return None
        texts = fixed_texts(self.catalogue, self.config)
        self._prerender = self.cache.start_prerender_thread(self.synthesizer, texts)
        return self._prerender

    # -- one turn ---------------------------------------------------------------------------

    def new_conversation(self) -> Dialogue:
        return Dialogue(self.matcher, self.config)

    def recognise(self, frames: Iterable[bytes], timings: Timings) -> tuple[Transcript, float]:
        """Feed the question's audio as it arrives; the final transcript once it ends.

        Returns the transcript and the moment the audio ended (time.perf_counter()), from
        which the other timings are counted.
        """
        session = self.recognizer.start()
        for frame in frames:
            session.feed(frame)
        ended = time.perf_counter()
        transcript = session.finish()
        timings.asr_final_ms = _ms(ended)
        return transcript, ended

    def respond(self, dialogue: Dialogue, text: str, timings: Timings | None = None) -> Reply:
        start = time.perf_counter()
        reply = dialogue.handle(text)
        if timings is not None:
            timings.match_ms = _ms(start)
        return reply

    def speak(self, reply: Reply | str, *, slow: bool = False) -> Iterator[Speech]:
        """The answer's audio, sentence by sentence, from the cache where it can."""
        text, slow = (reply.text, reply.slow) if isinstance(reply, Reply) else (reply, slow)
        return speak_stream(self.synthesizer, text, slow=slow, cache=self.cache)

    def answer_recording(self, frames: Iterable[bytes], dialogue: Dialogue | None = None):
        """A whole turn from recorded audio: transcript, reply, audio and timings."""
        dialogue = dialogue or self.new_conversation()
        timings = Timings()
        transcript, ended = self.recognise(frames, timings)
        reply = self.respond(dialogue, transcript.text, timings)
        audio: list[Speech] = []
        for speech in self.speak(reply):
            if not audio:
                timings.first_audio_ms = _ms(ended)
            audio.append(speech)
        timings.total_ms = _ms(ended)
        return transcript, reply, audio, timings
