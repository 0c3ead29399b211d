"""The simulated family honours a run's options and images, as a real model would."""

from __future__ import annotations

import json

from backend.providers.base import ChatRequest
from backend.providers.simulated import SimulatedProvider, simulated_text
from backend.run_options import ImageData, RunOptions
from tests.backend.providers.helpers import collect

PROMPT = "[[simulate:tokens=60]] Explain tides"


def test_a_stop_sequence_ends_the_answer_before_it() -> None:
    full = "".join(simulated_text("instant", ChatRequest("instant", PROMPT)))
    word = full.split()[5]
    cut = "".join(simulated_text("instant", ChatRequest("instant", PROMPT, options=RunOptions(stop=(word,)))))
    assert word not in cut and len(cut) < len(full)


def test_options_vary_the_answer_and_none_keep_it() -> None:
    plain = simulated_text("instant", ChatRequest("instant", PROMPT))
    assert simulated_text("instant", ChatRequest("instant", PROMPT, options=RunOptions())) == plain
    assert simulated_text("instant", ChatRequest("instant", PROMPT, options=RunOptions(top_p=0.1))) != plain


async def test_json_mode_and_images() -> None:
    request = ChatRequest(
        "instant",
        PROMPT,
        options=RunOptions(response_format="json"),
        images=(ImageData("image/png", b"12345"),),
    )
    result = await collect(SimulatedProvider(), request)
    answer = json.loads(result.text)
    assert answer["answer"].startswith("I see 1 image(s) (image/png 5 bytes).")
