"""Seeded Markdown generator behind the simulated model family.

Pure and deterministic: the same `random.Random` state and style always give
the same blocks.  Text is produced block by block (paragraph, bullet list,
code fence) so an answer can end at a natural block boundary, and split into
"tokens" that each carry their leading whitespace, so `"".join(tokens)` is the
exact Markdown shown to the user.
"""

from __future__ import annotations

import random
import re
from collections.abc import Generator, Iterator

_TOKEN = re.compile(r"\s*\S+")

_NOUNS = (
    "cache", "pipeline", "request", "latency", "model", "schema", "index", "queue", "worker",
    "prompt", "budget", "metric", "dataset", "session", "boundary", "signal", "trade-off",
    "baseline", "gradient", "endpoint", "contract", "snapshot", "buffer", "policy", "report",
)  # fmt: skip
_ADJECTIVES = (
    "robust", "simple", "incremental", "cheap", "consistent", "explicit", "stateless", "bounded",
    "careful", "predictable", "noisy", "stable", "lazy", "small", "shared", "observable",
)  # fmt: skip
_VERBS = (
    "reduces", "improves", "separates", "exposes", "limits", "caches", "validates", "measures",
    "simplifies", "isolates", "streams", "batches", "protects", "clarifies", "balances",
)  # fmt: skip
_ADVERBS = ("quickly", "reliably", "in practice", "over time", "by design", "under load", "at scale")
_OPENERS = ("In short,", "Notably,", "As a rule,", "In practice,", "Put simply,", "Crucially,", "Often,")
_STOPWORDS = frozenset(
    {
        "about", "above", "after", "again", "also", "because", "before", "being", "between", "could",
        "does", "doing", "from", "have", "having", "into", "just", "more", "most", "other", "over",
        "should", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they",
        "this", "those", "through", "under", "very", "what", "when", "where", "which", "while", "with",
        "would", "your", "please", "explain", "write", "tell", "give", "show",
    }
)  # fmt: skip
_CODE_VERBS = ("load", "merge", "score", "group", "parse", "rank", "filter", "summarize")


def split_tokens(text: str) -> list[str]:
    """Split text into word tokens that keep their leading whitespace."""
    return _TOKEN.findall(text)


def split_tokens_stepped(text: str, per_step: int = 2_048) -> Generator[None, None, list[str]]:
    """`split_tokens`, yielding every `per_step` tokens (a whole answer split on the event loop)."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        tokens.append(match.group())
        if len(tokens) % per_step == 0:
            yield
    return tokens


def topic_words(prompt: str, rng: random.Random) -> list[str]:
    """Up to three content words of the prompt, so answers look on-topic."""
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", prompt)]
    picked = [w for w in dict.fromkeys(words) if w not in _STOPWORDS][:3]
    return picked or [rng.choice(_NOUNS)]


# Answer length range (tokens) per style; terse models say little.
LENGTH_RANGE = {"prose": (120, 400), "bullets": (120, 400), "code": (150, 400), "terse": (20, 60)}


def blocks(style: str, topics: list[str], rng: random.Random) -> Iterator[str]:
    """An endless stream of Markdown blocks in the given style."""
    generator = {"prose": _prose, "bullets": _bullets, "code": _code, "terse": _terse}[style]
    return generator(topics, rng)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _sentence(rng: random.Random, topics: list[str]) -> str:
    subject = rng.choice([*topics, *_NOUNS[:8]]) if rng.random() < 0.4 else rng.choice(_NOUNS)
    pattern = rng.randrange(4)
    if pattern == 0:
        text = (
            f"{_a(rng.choice(_ADJECTIVES))} {subject} {rng.choice(_VERBS)} the "
            f"{rng.choice(_NOUNS)} {rng.choice(_ADVERBS)}"
        )
    elif pattern == 1:
        text = (
            f"{rng.choice(_OPENERS)} the {subject} {rng.choice(_VERBS)} each {rng.choice(_NOUNS)} "
            f"and keeps the {rng.choice(_NOUNS)} {rng.choice(_ADJECTIVES)}"
        )
    elif pattern == 2:
        text = (
            f"when the {rng.choice(_NOUNS)} grows, {_a(rng.choice(_ADJECTIVES))} {subject} "
            f"{rng.choice(_VERBS)} the **{rng.choice(_NOUNS)}**"
        )
    else:
        text = f"the {subject} {rng.choice(_VERBS)} {rng.choice(_ADJECTIVES)} {_plural(rng.choice(_NOUNS))}"
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, topics: list[str], low: int = 3, high: int = 5) -> str:
    return " ".join(_sentence(rng, topics) for _ in range(rng.randint(low, high)))


def _bullet_list(rng: random.Random, topics: list[str]) -> str:
    items = []
    for _ in range(rng.randint(3, 5)):
        term = f"{rng.choice(_ADJECTIVES).capitalize()} {rng.choice(_NOUNS)}"
        items.append(f"- **{term}**: {_sentence(rng, topics)}")
    return "\n".join(items)


def _title(topics: list[str]) -> str:
    return " ".join(t.capitalize() for t in topics)


def _prose(topics: list[str], rng: random.Random) -> Iterator[str]:
    yield f"## {_title(topics)}"
    while True:
        yield _paragraph(rng, topics)
        if rng.random() < 0.25:
            yield f"### {rng.choice(_ADJECTIVES).capitalize()} {_plural(rng.choice(_NOUNS))}"


def _bullets(topics: list[str], rng: random.Random) -> Iterator[str]:
    yield f"Here is an overview of **{' '.join(topics)}**:"
    while True:
        yield f"### {rng.choice(_ADJECTIVES).capitalize()} {_plural(rng.choice(_NOUNS))}"
        yield _bullet_list(rng, topics)


def _code(topics: list[str], rng: random.Random) -> Iterator[str]:
    yield f"A small Python sketch for **{' '.join(topics)}**:"
    while True:
        yield _code_block(rng, topics)
        yield _paragraph(rng, topics, 2, 3)
        yield _bullet_list(rng, topics)


def _terse(topics: list[str], rng: random.Random) -> Iterator[str]:
    while True:
        yield _paragraph(rng, topics, 1, 2)


def _code_block(rng: random.Random, topics: list[str]) -> str:
    noun = re.sub(r"\W", "_", rng.choice(topics)).strip("_") or "item"
    verb = rng.choice(_CODE_VERBS)
    limit = rng.choice((8, 16, 32, 64, 100))
    doc = _sentence(rng, topics)
    lines = [
        "```python",
        f"def {verb}_{noun}(items: list[str], limit: int = {limit}) -> dict[str, int]:",
        f'    """{doc}"""',
        "    counts: dict[str, int] = {}",
        "    for item in items[:limit]:",
        "        key = item.strip().lower()",
        "        counts[key] = counts.get(key, 0) + 1",
        "    return counts",
        "",
        "",
        f"print({verb}_{noun}([{', '.join(repr(w) for w in rng.sample(_NOUNS, 3))}]))",
        "```",
    ]
    return "\n".join(lines)
