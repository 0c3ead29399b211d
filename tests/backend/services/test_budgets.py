"""Monthly budgets through the whole runtime, on SQLite and PostgreSQL: a comparison or retry
that could pass the budget is refused before anything is saved, with a message that says why."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from backend.auth.permissions import Principal
from backend.db.models import Comparison, Run
from backend.i18n import format_usd, gettext
from backend.limits import RateLimitExceeded
from backend.runtime import Runtime
from backend.services.budgets import BudgetExceeded, max_cost_usd, month_start, next_month_start
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import fake_server, runtime_on

PROMPT = "Explain how a bloom filter works"
PRICED = {"model": "openai:gpt-4o", "max_tokens": 2000}  # at most about $0.02


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


@pytest.fixture
async def brt(server: FakeLLMServer, runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(server, runtime_database_url, tmp_path, openai_api_key="sk-env-key-1234") as rt:
        yield rt


async def set_budget(rt: Runtime, user: Principal, usd: float | None) -> None:
    await rt.accounts.set_budget(user, usd)


async def spend(rt: Runtime, user: Principal, usd: float, finished: datetime | None = None) -> None:
    """Record a finished run of `user` that cost `usd` (a free simulated run, priced after)."""
    created = await rt.comparisons.create(user, {"prompt": "x", "panes": [{"model": "simulated:instant"}]})
    await wait_until_final(rt.comparisons, created.id)
    async with rt.db.session() as session:
        await session.execute(
            update(Run)
            .where(Run.comparison_id == created.id)
            .values(cost_usd=usd, finished_at=finished or datetime.now(UTC))
        )
        await session.commit()


async def comparison_count(rt: Runtime) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(Comparison))).scalar_one())


def priced_payload() -> dict[str, object]:
    return {"prompt": PROMPT, "panes": [PRICED]}


async def test_a_comparison_that_could_pass_the_budget_is_refused_and_nothing_is_saved(brt: Runtime) -> None:
    ada = await owner(brt)
    await set_budget(brt, ada, 5.00)
    await spend(brt, ada, 4.99)
    before = await comparison_count(brt)

    with pytest.raises(BudgetExceeded) as caught:
        await brt.comparisons.create(ada, priced_payload())

    cost = max_cost_usd("", PROMPT, [(PRICED["model"], PRICED["max_tokens"])])  # type: ignore[list-item]
    assert 0.01 < cost < 0.03
    assert caught.value.message == (
        f"This comparison could cost up to {format_usd(cost, 'en', 4)}, which would pass your monthly budget "
        "of $5.00 ($4.99 spent this month)."
    )
    # The page and the API say it again in the reader's language, amounts in the locale's format.
    assert gettext("ja", caught.value.message) == (
        f"この比較は最大 {format_usd(cost, 'ja', 4)} かかる可能性があり、月間予算 $5.00 を超えます"
        "（今月の使用額 $4.99）。"
    )
    assert isinstance(caught.value, RateLimitExceeded) and caught.value.limit == "monthly_budget"
    now = datetime.now(UTC)
    assert caught.value.retry_after_s == pytest.approx((next_month_start(now) - now).total_seconds(), abs=5)
    assert await comparison_count(brt) == before


async def test_within_the_budget_runs_and_spend_is_counted(brt: Runtime) -> None:
    ada = await owner(brt)
    await set_budget(brt, ada, 5.00)
    await spend(brt, ada, 1.25)
    created = await brt.comparisons.create(ada, priced_payload())
    [done] = (await wait_until_final(brt.comparisons, created.id)).runs
    assert done.status == "done" and done.cost_usd > 0
    current = await brt.budgets.spend(ada.user_id)
    assert current.budget_usd == 5.00
    assert current.spent_usd == pytest.approx(1.25 + done.cost_usd)


async def test_no_budget_means_no_limit_and_free_models_always_run(brt: Runtime) -> None:
    ada = await owner(brt)
    await spend(brt, ada, 1000.0)
    await brt.comparisons.create(ada, priced_payload())  # no budget set
    await set_budget(brt, ada, 1.00)
    with pytest.raises(BudgetExceeded):
        await brt.comparisons.create(ada, priced_payload())
    # A free model cannot move the spend, so it runs even over the budget.
    await brt.comparisons.create(ada, {"prompt": "x", "panes": [{"model": "simulated:instant"}]})


async def test_only_this_months_spend_counts(brt: Runtime) -> None:
    ada = await owner(brt)
    await set_budget(brt, ada, 5.00)
    await spend(brt, ada, 4.99, finished=month_start(datetime.now(UTC)) - timedelta(seconds=1))
    assert (await brt.budgets.spend(ada.user_id)).spent_usd == 0.0
    await brt.comparisons.create(ada, priced_payload())


async def test_a_retry_that_could_pass_the_budget_is_refused(brt: Runtime) -> None:
    ada = await owner(brt)
    created = await brt.comparisons.create(ada, priced_payload())
    record = await wait_until_final(brt.comparisons, created.id)
    await set_budget(brt, ada, 0.001)
    with pytest.raises(BudgetExceeded, match="This retry could cost up to"):
        await brt.comparisons.retry(ada, record.id, record.runs[0].id)
    after = await brt.comparisons.get(ada, record.id)
    assert after.runs[0].attempt == 0  # nothing was reset or queued


async def test_the_api_answers_429_with_retry_after_until_the_month_ends(brt: Runtime) -> None:
    ada = await owner(brt)
    await set_budget(brt, ada, 0.0001)
    async with api_client(brt) as client:
        response = await client.post("/api/v1/comparisons", json=priced_payload())
    assert response.status_code == 429
    assert "monthly budget of $0.0001" in response.text
    assert int(response.headers["Retry-After"]) > 0


def test_month_boundaries_are_utc_calendar_months() -> None:
    december = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    assert month_start(december) == datetime(2025, 12, 1, tzinfo=UTC)
    assert next_month_start(december) == datetime(2026, 1, 1, tzinfo=UTC)
    assert next_month_start(datetime(2026, 2, 14, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_amounts_keep_small_values_visible() -> None:
    assert format_usd(5, "en") == "$5.00"
    assert format_usd(0.0004, "en") == "$0.0004"
    assert format_usd(0.0123, "en", 4) == "$0.0123"
    assert format_usd(1234.5, "en") == "$1,234.50"


async def test_images_count_in_the_budget_at_their_models_fixed_token_cost(brt: Runtime) -> None:
    """gpt-4o counts an image as 765 prompt tokens (models.toml): four of them tip a comparison
    that fits the budget without them over it."""
    model, max_tokens = str(PRICED["model"]), int(PRICED["max_tokens"])  # type: ignore[call-overload]
    without = max_cost_usd("", PROMPT, [(model, max_tokens)])
    with_four = max_cost_usd("", PROMPT, [(model, max_tokens)], images=4)
    assert with_four - without == pytest.approx(4 * 765 * 2.50 / 1_000_000)
    ada = await owner(brt)
    await set_budget(brt, ada, 5.00)
    await spend(brt, ada, 5.00 - (without + with_four) / 2)
    async with api_client(brt) as client:
        images = []
        for n in range(4):
            uploaded = await client.post("/api/v1/images", content=b"\x89PNG\r\n\x1a\n" + bytes([n]) * 64)
            assert uploaded.status_code == 201, uploaded.text
            images.append(uploaded.json()["id"])
    before = await comparison_count(brt)
    with pytest.raises(BudgetExceeded) as caught:
        await brt.comparisons.create(ada, {**priced_payload(), "images": images})
    assert caught.value.message.startswith(
        f"This comparison could cost up to {format_usd(with_four, 'en', 4)},"
    )
    assert await comparison_count(brt) == before
    await brt.comparisons.create(ada, priced_payload())  # the same prompt without its images fits
