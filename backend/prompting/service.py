"""Propose an improved prompt for a finished comparison, accept it as the prompt's next version,
and list a prompt's versions with their win rates and cost.

Proposing needs the right to run comparisons (the chain calls a model: it is validated like a
pane and counted against the user's budget check and rate limits; it runs in this process
with the deployment's provider keys). Accepting starts a comparison with the same panes and
the revised prompt. Reading versions is for any member; anyone else gets NotFound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.exceptions import OutputParserException

from backend.auth.permissions import Action, Principal
from backend.db import judgements as judgements_repo
from backend.db import prompt_versions as repo
from backend.db import votes as votes_repo
from backend.db.engine import Database
from backend.db.prompt_versions import VersionRecord
from backend.db.records import FINAL_STATUSES, ComparisonRecord, RunStatus
from backend.i18n import Message
from backend.judging.pairs import pairs_of
from backend.prompting.chain import TEMPLATE, Proposal, propose
from backend.providers import registry
from backend.providers.base import ProviderError
from backend.services.access import Access
from backend.services.blind import pane_label
from backend.services.comparisons import ComparisonService
from backend.services.validation import InvalidComparison
from backend.settings import Settings

IMPROVE_MAX_TOKENS = 2048
OUTPUT_CHARS = 6000  # of each answer shown to the improving model


class InvalidImprovement(InvalidComparison):
    """An improvement refused, keyed by field (the API answers 422); nothing saved."""


@dataclass(frozen=True, slots=True)
class VersionView:
    record: VersionRecord
    models: tuple[str, ...]
    votes: int
    vote_win_rates: dict[str, float]  # share of votes naming the model's pane best
    judge_win_rates: dict[str, float]  # (wins + ties / 2) / decided judge pairs it was in


@dataclass(frozen=True, slots=True)
class AcceptedVersion:
    comparison: ComparisonRecord
    lineage_id: str
    version: int


class PromptService:
    def __init__(self, db: Database, comparisons: ComparisonService, settings: Settings) -> None:
        self._db = db
        self._comparisons = comparisons
        self._settings = settings
        self._access = Access(db)

    async def propose(self, principal: Principal, comparison_id: str, model: str) -> Proposal:
        project_id = await self._access.require_comparison(principal, Action.RUN, comparison_id)
        await self._refuse_masked(principal, comparison_id)
        record = await self._comparisons.get_unchecked(comparison_id)
        await self._refuse_judge_runs(comparison_id)
        unfinished = sum(1 for r in record.runs if r.status not in FINAL_STATUSES)
        if unfinished:
            raise InvalidImprovement(
                {"comparison": "This comparison is still running: improve it once it finishes."}
            )
        outputs, feedback = await self._evidence(record)
        values = {"prompt": record.prompt, "system_prompt": record.system_prompt or "(none)"}
        system, human = (
            str(m.content)
            for m in TEMPLATE.format_messages(
                format_instructions="", outputs=outputs, feedback=feedback, **values
            )
        )
        pane = {"model": model, "temperature": 0.0, "max_tokens": IMPROVE_MAX_TOKENS}
        try:
            await self._comparisons.admit(
                principal,
                {"prompt": human, "system_prompt": system, "panes": [pane], "project_id": project_id},
            )
        except InvalidImprovement:
            raise
        except InvalidComparison as exc:
            raise InvalidImprovement(
                {("model" if k.startswith("panes") else "comparison"): v for k, v in exc.errors.items()}
            ) from None
        try:
            provider = registry.get_provider(model, self._settings)
            return await propose(
                provider,
                registry.parse_model_id(model)[1],
                prompt=record.prompt,
                system_prompt=record.system_prompt,
                outputs=outputs,
                feedback=feedback,
                max_tokens=IMPROVE_MAX_TOKENS,
            )
        except OutputParserException as exc:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "unparseable"
            refusal = Message("The model's answer is not a proposal: {why}", why=first)
            raise InvalidImprovement({"model": refusal}) from None
        except ProviderError as exc:
            raise InvalidImprovement({"model": Message("The model failed: {why}", why=exc.message)}) from None

    async def _refuse_masked(self, principal: Principal, comparison_id: str) -> None:
        # A proposal reads the panes' models and the next version runs them in the open:
        # either would tell a person who has not voted or revealed which model was which.
        if await self._comparisons.blind.hides_models(principal, comparison_id):
            raise InvalidImprovement(
                {"comparison": "This blind comparison still hides its models: vote or reveal them first."}
            )

    async def _refuse_judge_runs(self, comparison_id: str) -> None:
        async with self._db.session() as session:
            if await judgements_repo.is_judge_comparison(session, comparison_id):
                raise InvalidImprovement(
                    {"comparison": "This comparison holds a judge's run, not a prompt of yours."}
                )

    async def _evidence(self, record: ComparisonRecord) -> tuple[str, str]:
        """The answers, and the votes and judge rationales on them, as the chain shows them."""
        outputs = "\n\n".join(
            f"Answer {r.position} ({r.model}):\n{r.output_text[:OUTPUT_CHARS]}"
            for r in record.runs
            if r.status == RunStatus.DONE
        )
        async with self._db.session() as session:
            votes = await votes_repo.votes_of(session, record.id)
            judgements = await judgements_repo.judgements_of(session, [record.id])
        lines = [
            f"A person voted {'answer ' + str(v.best_pane) if v.best_pane is not None else v.no_winner} best"
            + (f": {v.comment}" if v.comment else ".")
            for v in votes
        ]
        lines += [
            f"The judge ({j.judge_model}), answers {r.first_pane} vs {r.second_pane}: {r.rationale}"
            for j in judgements
            for r in j.runs
            if r.rationale
        ]
        return outputs or "(no answers)", "\n".join(lines) or "(none yet)"

    async def accept(
        self,
        principal: Principal,
        comparison_id: str,
        *,
        prompt: str,
        system_prompt: str,
        reason: str,
        proposed_by: str,
    ) -> AcceptedVersion:
        """Run the revised prompt on the same panes, recorded as the prompt's next version."""
        project_id = await self._access.require_comparison(principal, Action.RUN, comparison_id)
        await self._refuse_masked(principal, comparison_id)
        record = await self._comparisons.get_unchecked(comparison_id)
        await self._refuse_judge_runs(comparison_id)
        panes = [
            {
                "model": r.model,
                **dict(r.params),  # every stored setting (RunParams' keys are the pane's fields)
            }
            for r in record.runs
        ]
        created = await self._comparisons.create(
            principal,
            {"prompt": prompt, "system_prompt": system_prompt, "panes": panes, "project_id": project_id},
        )
        async with self._db.session() as session:
            lineage_id, version = await repo.add_next_version(
                session,
                source_comparison_id=comparison_id,
                new_comparison_id=created.id,
                reason=reason,
                proposed_by=proposed_by,
            )
        return AcceptedVersion(created, lineage_id, version)

    async def version_numbers(self, principal: Principal, comparison_ids: Sequence[str]) -> dict[str, int]:
        """comparison id -> its version number, for those of the ids that are a prompt's version
        and in a project the principal is a member of (History: one query per page)."""
        async with self._db.session() as session:
            return await repo.version_numbers(session, comparison_ids, member_id=principal.user_id)

    async def versions(self, principal: Principal, comparison_id: str) -> list[VersionView]:
        """The versions of the prompt this comparison is a version of (empty if none)."""
        await self._access.require_comparison(principal, Action.READ, comparison_id)
        async with self._db.session() as session:
            found = await repo.version_of(session, comparison_id)
            if found is None:
                return []
            records = await repo.lineage(session, found[0])
            views = []
            hidden = {
                v.comparison_id
                for v in records
                if await self._comparisons.blind.hides_models(principal, v.comparison_id)
            }
            for v in records:
                panes = await votes_repo.panes_of(session, v.comparison_id)
                if v.comparison_id in hidden:  # blind, not revealed to this person: labels
                    panes = [replace(p, model=pane_label(p.position)) for p in panes]
                # one vote per person: their vote on the latest turn they voted on
                votes = votes_repo.latest_per_person(await votes_repo.votes_of(session, v.comparison_id))
                judgements = await judgements_repo.judgements_of(session, [v.comparison_id])
                views.append(_view(v, tuple(p.model for p in panes), votes, judgements))
        return views


def _view(
    v: VersionRecord,
    models: tuple[str, ...],
    votes: list[votes_repo.VoteRecord],
    judgements: list[judgements_repo.JudgementRecord],
) -> VersionView:
    vote_rates: dict[str, float] = {}
    if votes:
        for position, model in enumerate(models):
            best = sum(1 for vote in votes if vote.best_pane == position)
            vote_rates[model] = max(vote_rates.get(model, 0.0), best / len(votes))
    points: dict[str, list[float]] = {}
    for judgement in judgements:
        for pair in pairs_of(judgement):
            if pair.result is None or pair.pane_b >= len(models):
                continue
            score_a = {"a_wins": 1.0, "b_wins": 0.0, "tie": 0.5}[pair.result]
            points.setdefault(models[pair.pane_a], []).append(score_a)
            points.setdefault(models[pair.pane_b], []).append(1.0 - score_a)
    judge_rates = {m: sum(p) / len(p) for m, p in points.items()}
    return VersionView(v, models, len(votes), vote_rates, judge_rates)
