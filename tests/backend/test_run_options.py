"""RunOptions: parsing what the page types, and living inside RunParams' stored JSON."""

from __future__ import annotations

import pytest

from backend.run_options import (
    JSON_MODE,
    JSON_SCHEMA,
    STOP,
    TOP_P,
    RunOptions,
    parse_penalty,
    parse_schema,
    parse_seed,
    parse_stop,
    parse_top_p,
)
from backend.runs_model import RunParams


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (None, True)),
        ("0.3", (0.3, True)),
        ("1", (1.0, True)),
        ("1.01", (None, False)),
        ("x", (None, False)),
    ],
)
def test_parse_top_p(text: str, expected: tuple[float | None, bool]) -> None:
    assert parse_top_p(text) == expected


def test_parse_penalty_seed_stop_and_schema() -> None:
    assert parse_penalty("-2") == (-2.0, True) and parse_penalty("2.5") == (None, False)
    assert parse_seed("") == (None, True) and parse_seed("42") == (42, True)
    assert parse_seed("-1") == (None, False) and parse_seed("1.5") == (None, False)
    assert parse_stop("END\n\n###\n") == (("END", "###"), True)
    assert parse_stop("a\nb\nc\nd\ne") == ((), False)
    assert parse_stop("x" * 101) == ((), False)
    assert parse_schema('{"type": "object"}') == ({"type": "object"}, True)
    assert parse_schema("[1]") == (None, False) and parse_schema("{") == (None, False)
    assert parse_schema("  ") == (None, True)


def test_run_params_without_options_store_what_they_always_did() -> None:
    params = RunParams.of({"temperature": 0.2, "max_tokens": 9, "seed": None})
    assert params.stored() == {"temperature": 0.2, "max_tokens": 9, "seed": None}
    assert params == {"temperature": 0.2, "max_tokens": 9, "seed": None}
    assert params.options == RunOptions()


def test_run_params_round_trip_their_options() -> None:
    stored = {
        "temperature": 0.2,
        "max_tokens": 9,
        "seed": 1,
        "top_p": 0.4,
        "stop": ["END"],
        "response_format": "json_schema",
        "json_schema": {"type": "object"},
    }
    params = RunParams.of(stored)
    assert params.options.top_p == 0.4 and params.options.stop == ("END",)
    assert dict(params) == stored and len(params) == len(stored)
    assert params.options.used() == {TOP_P, STOP, JSON_SCHEMA}
    assert RunOptions(response_format="json").used() == {JSON_MODE}


def test_cache_part_is_empty_without_options_and_canonical_with_them() -> None:
    assert RunOptions().cache_part() == ""
    assert RunOptions(top_p=0.5, stop=("a",)).cache_part() == '{"stop":["a"],"top_p":0.5}'
