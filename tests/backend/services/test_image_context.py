"""Images count in the context-window check before a run (issue 19): each image is counted as its
model's fixed ``image_tokens`` (backend/catalog/models.toml), on the first turn and in every
follow-up (the images go with each turn's request). A prompt or conversation that only fits
without its images is refused with a message that says how the images were counted; nothing is
saved."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from backend.catalog import estimate_tokens, load_catalog
from backend.db.models import Comparison, Run
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, wait_until_final

PREFIX = "/api/v1"
MODEL = "simulated:swift"  # reads images; context window 32,768; an image counts as 1,000 tokens
WINDOW = 32_768
PER_IMAGE = 1_000
MAX_TOKENS = 1_024
# 28,000 tokens of text: fits with its answer (29,024), and with one image (30,024), not with four
PROMPT = "[[simulate:tokens=3]] " + "word " * 22_395


def png(n: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([n]) * 64


async def upload(client: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for n in range(count):
        response = await client.post(f"{PREFIX}/images", content=png(n))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def count(rt: Runtime, table: type) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def test_the_catalog_counts_an_image_per_provider() -> None:
    catalog = load_catalog()
    assert catalog.resolve(MODEL).image_tokens == PER_IMAGE
    assert catalog.resolve("openai:gpt-4o").image_tokens == 765
    assert catalog.resolve("anthropic:claude-sonnet-4-5").image_tokens == 1600
    assert catalog.resolve("vertexai:gemini-2.5-flash").image_tokens == 1032
    assert catalog.resolve("vertexai:claude-haiku-4-5@20251001").image_tokens == 1600  # its own
    assert catalog.resolve("ollama:some-local-model").image_tokens == 768  # unlisted: its family's


async def test_a_prompt_that_fits_only_without_its_images_is_refused(rt: Runtime) -> None:
    text_tokens = estimate_tokens("\n" + PROMPT)
    assert text_tokens + MAX_TOKENS + PER_IMAGE <= WINDOW < text_tokens + MAX_TOKENS + 4 * PER_IMAGE
    async with api_client(rt) as ada:
        images = await upload(ada, 4)
        before = await count(rt, Comparison)
        payload = {"prompt": PROMPT, "images": images, "panes": [{"model": MODEL, "max_tokens": MAX_TOKENS}]}
        refused = await ada.post(f"{PREFIX}/comparisons", json=payload)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"]["prompt"] == (
            f"The prompt is about {text_tokens + 4 * PER_IMAGE:,} tokens, counting 4 image(s) at "
            f"1,000 tokens each; with max tokens 1,024 it exceeds Swift (simulated)'s context window "
            "of 32,768 tokens."
        )
        assert await count(rt, Comparison) == before

        one = await ada.post(f"{PREFIX}/comparisons", json={**payload, "images": images[:1]})
        assert one.status_code == 201, one.text


async def test_a_follow_up_counts_the_images_in_the_whole_conversation(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        images = await upload(ada, 1)
        payload = {"prompt": PROMPT, "images": images, "panes": [{"model": MODEL, "max_tokens": MAX_TOKENS}]}
        created = await ada.post(f"{PREFIX}/comparisons", json=payload)
        assert created.status_code == 201, created.text
        record = await wait_until_final(rt.comparisons, created.json()["id"])
        answer = record.runs[0].output_text
        # 3,000 more tokens: the conversation fits without its image, not with it
        message = "more " * 2_400
        text_tokens = estimate_tokens("\n" + "\n".join([PROMPT, answer, message]))
        assert text_tokens + MAX_TOKENS <= WINDOW < text_tokens + PER_IMAGE + MAX_TOKENS
        runs = await count(rt, Run)

        refused = await ada.post(f"{PREFIX}/comparisons/{record.id}/turns", json={"message": message})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"]["message"] == (
            f"The conversation is about {text_tokens + PER_IMAGE:,} tokens, counting 1 image(s) at "
            f"1,000 tokens each; with max tokens 1,024 it exceeds Swift (simulated)'s context window "
            "of 32,768 tokens."
        )
        assert await count(rt, Run) == runs
