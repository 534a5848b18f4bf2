"""Tokenizer preflight checks as pytest items, marked ``tokenizer``
(``--punie-tokenizer DIR``): single-id markers, the tool parser mlx-lm will
serve with, and with ``--punie-reference-tokenizer`` the chat template and a
training example's special-token positions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.checks import tokenizerfiles as tk
from pytest_punie.items.checkitem import CheckItem
from pytest_punie.registry import Registry
from pytest_punie.serving.calls import call_texts
from pytest_punie.serving.toolparser import preflight
from pytest_punie.session import punie_session

TokenizerCheck = Callable[["TokenizerItem"], list[str]]
TOKENIZER_CHECKS: Registry[TokenizerCheck] = Registry("tokenizer check", ())
"""The tokenizer preflight checks by name: a new one is one function decorated with
``@tokenizer_check(name, description)`` (and a line in ``tokenizer_items`` saying when it runs)."""
tokenizer_check = TOKENIZER_CHECKS.register


class TokenizerItem(CheckItem):
    """One tokenizer preflight check, before a model is trained or served with it."""

    REGISTRY = TOKENIZER_CHECKS
    MARK = "tokenizer"

    def __init__(self, *, tokenizer: Path, reference: Path | None, spec: Path, **kw: Any):
        super().__init__(**kw)
        self.tokenizer = tokenizer
        self.reference = reference
        self.spec = spec

    def runtest(self) -> None:
        """Fails with the check's problems."""
        self.fail_on(self._problems())

    def _problems(self) -> list[str]:
        return TOKENIZER_CHECKS.get(self.check).fn(self)

    def candidate(self) -> Any:
        """The tokenizer under check, loaded as transformers (and so mlx-lm) loads it."""
        return tk.load_tokenizer(self.tokenizer)

    def reference_tokenizer(self) -> Any:
        """The reference tokenizer (--punie-reference-tokenizer), loaded the same way."""
        assert self.reference is not None  # its checks are collected only with a reference
        return tk.load_tokenizer(self.reference)

    def reportinfo(self):
        """Where pytest says the check is: the tokenizer family's spec."""
        return self.spec, None, f"tokenizer {self.check} [{self.tokenizer}]"


@tokenizer_check("single-tokens", "each marker of the model family encodes to exactly its one id")
def single_tokens(item: TokenizerItem) -> list[str]:
    """A marker split into pieces breaks every tool call written with it."""
    return tk.check_single_tokens(item.candidate(), item.spec)


@tokenizer_check(
    "tool-parser", "mlx-lm's tool parser for this tokenizer reads every tool call of the training data and the suite"
)
def tool_parser(item: TokenizerItem) -> list[str]:
    """A parser that cannot read the calls makes the server drop them: caught before a model is trained."""
    data = [Path(d) for d in item.config.getoption("punie_data")]
    suites = punie_session(item.config).suites_seen
    return preflight(item.tokenizer, call_texts(suites, data, item.config.rootpath)).problems()


@tokenizer_check("chat-template", "the chat template renders [system, user] exactly as the reference's")
def chat_template(item: TokenizerItem) -> list[str]:
    """A changed template trains the model on text it will never be served."""
    system, query = punie_session(item.config).smoke_prompt()
    return tk.check_chat_template(item.candidate(), item.reference_tokenizer(), system, query)


@tokenizer_check("example-encoding", "a training example's special tokens sit where the reference puts them")
def example_encoding(item: TokenizerItem) -> list[str]:
    """Special tokens at other positions mean the training data is read differently from the reference."""
    session = punie_session(item.config)
    _, tokens, _ = tk.load_spec(item.spec)
    messages = session.training_example() or list(session.smoke_messages())
    return tk.check_example_encoding(item.candidate(), item.reference_tokenizer(), messages, list(tokens))


def tokenizer_items(session: pytest.Session, config: pytest.Config) -> list[TokenizerItem]:
    """The tokenizer preflight items --punie-tokenizer asks for."""
    tok = config.getoption("punie_tokenizer")
    if not tok:
        return []
    ref = config.getoption("punie_reference_tokenizer")
    family = config.getoption("punie_tokenizer_family")
    spec = config.rootpath / "evalsuites" / "tokenizers" / f"{family}.yaml"
    if config.getoption("punie_tokenizer_spec"):
        spec = Path(config.getoption("punie_tokenizer_spec")).resolve()
    checks = ["single-tokens", "tool-parser"] + (["chat-template", "example-encoding"] if ref else [])
    tok_path = Path(tok).resolve()
    return [
        TokenizerItem.from_parent(
            session,
            name=f"tokenizer[{tok}]::{c}",
            check=c,
            tokenizer=tok_path,
            reference=Path(ref).resolve() if ref else None,
            spec=spec,
        )
        for c in checks
    ]
