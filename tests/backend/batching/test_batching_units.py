"""The pure parts of batches: template variables, CSV tables and assertions."""

from __future__ import annotations

import pytest

from backend.batching.assertions import AssertionSpec, CellFacts, failed_assertions
from backend.batching.tables import MAX_ROWS, InvalidTable, parse_csv, table_of_rows
from backend.batching.variables import missing_variables, render, variables_of


def test_variables_are_found_in_order_once_and_filled_in_one_pass() -> None:
    text = "Translate {{ text }} into {{lang}}; again: {{text}}. {{not a var}}"
    assert variables_of("You speak {{lang}}.", text) == ["lang", "text"]
    assert render(text, {"text": "{{lang}}", "lang": "French"}) == (
        "Translate {{lang}} into French; again: {{lang}}. {{not a var}}"
    )
    assert render("{{missing}} stays", {}) == "{{missing}} stays"
    assert missing_variables(["a", "b", "c"], ["b"]) == ["a", "c"]


def test_a_csv_becomes_rows_keyed_by_its_header() -> None:
    table = parse_csv('\ufeffcity,country\nParis,France\n"Kyoto, old capital",Japan\n\n')
    assert table.columns == ["city", "country"]
    assert table.rows == [
        {"city": "Paris", "country": "France"},
        {"city": "Kyoto, old capital", "country": "Japan"},
    ]
    assert table_of_rows(["a"], [{"a": "1"}, {"a": "2"}]).rows == [{"a": "1"}, {"a": "2"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The CSV is empty"),
        ("city,country\n", "a header but no rows"),
        ("city,\nParis,France\n", "Every column in the first line needs a name"),
        ("city,city\nParis,Lyon\n", "Column names must differ: city repeat"),
        ("city,country\nParis\n", "Row 1 has 1 values, but the header names 2 columns"),
        ('city\n"Paris\n', "The CSV is malformed"),
        ("city\n" + "x\n" * (MAX_ROWS + 1), "The CSV has 1,001 rows; a batch runs at most 1,000"),
    ],
)
def test_bad_csv_is_refused_with_a_message_that_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidTable) as refused:
        parse_csv(text)
    assert message in refused.value.message


def test_a_thousand_rows_is_allowed() -> None:
    assert len(parse_csv("n\n" + "".join(f"{i}\n" for i in range(MAX_ROWS))).rows) == MAX_ROWS


def done(text: str, total_ms: float = 100.0, cost: float = 0.0) -> CellFacts:
    return CellFacts(status="done", output_text=text, total_ms=total_ms, cost_usd=cost)


def test_each_assertion_kind_passes_and_fails() -> None:
    specs = [
        AssertionSpec(kind="contains", value="{{expected}}"),
        AssertionSpec(kind="regex", value=r"^\{.*\}$"),
        AssertionSpec(kind="json_valid"),
        AssertionSpec(kind="max_latency_ms", value="500"),
        AssertionSpec(kind="max_cost_usd", value="0.01"),
    ]
    row = {"expected": '"ok"'}
    assert failed_assertions(specs, done('{"answer": "ok"}'), row) == []
    assert failed_assertions(specs, done('{"answer": "no"}', total_ms=900, cost=0.5), row) == [
        "contains {{expected}}",
        "max_latency_ms 500",
        "max_cost_usd 0.01",
    ]
    assert failed_assertions(specs[2:3], done('```json\n{"a": 1}\n```'), {}) == []
    assert failed_assertions(specs[1:3], done("not json"), {}) == [r"regex ^\{.*\}$", "json_valid"]


def test_a_running_cell_has_no_verdict_and_a_failed_run_fails() -> None:
    specs = [AssertionSpec(kind="json_valid")]
    assert failed_assertions(specs, CellFacts("running", "", None, 0.0), {}) is None
    assert failed_assertions(specs, CellFacts("error", "", None, 0.0), {}) == ["error"]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("contains", ""), ("regex", "(unclosed"), ("max_latency_ms", "fast"), ("max_cost_usd", "-1")],
)
def test_an_assertion_without_a_usable_value_is_refused(kind: str, value: str) -> None:
    with pytest.raises(ValueError):
        AssertionSpec.model_validate({"kind": kind, "value": value})
