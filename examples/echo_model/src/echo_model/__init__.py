"""An example model plug-in for cslm-harness: the smallest complete adapter, to copy and fill in.

``echo`` transcribes every clip as its ``text`` option and answers every spoken question by repeating it:
the question's transcript as the text channel (when the task has one), the question's own audio as the speech
channel. Replace the bodies of ``load``, ``transcribe`` and ``respond`` with calls into your model.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import RESPOND, TRANSCRIBE, Model
from harness.response import Response


class EchoModel(Model):
    """Example plug-in: transcribes every clip as text=, answers a spoken question with the question itself."""
    # What tasks may ask of it: `harness run` refuses a task that needs another capability, before loading.
    capabilities: ClassVar[frozenset[str]] = frozenset({TRANSCRIBE, RESPOND})
    # Its options (--model-arg KEY=VALUE): the harness refuses any other key, naming these.
    allowed: ClassVar[frozenset[str]] = frozenset({"text"})
    # The item's transcript reaches respond() as question_text=.
    wants: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(self, name: str = "echo", **options: Any):
        self.text = str(options.get("text", "hello"))
        # Everything passed here goes into describe(), which keys the stage cache and is written to results.json.
        super().__init__(name, text=self.text)

    def load(self) -> None:
        """Read weights here, not in __init__: the harness checks a whole configuration before loading anything,
        and a rerun whose stages are all cached never loads the model."""

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["version"] = "0.1.0"  # change it when outputs change, so cached outputs are not reused
        return info

    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        self.ensure_loaded()
        return [self.text for _ in audios]

    def respond(self, audio: np.ndarray, instruction: str | None, out_lang: str,
                question_text: str | None = None, **context: Any) -> Response:
        self.ensure_loaded()
        return Response(text=question_text or self.text, audio=Audio(np.asarray(audio, dtype=np.float32),
                                                                       self.input_sample_rate))
