"""Tokenizer preflight checks as pytest items, marked ``tokenizer``
(``--punie-tokenizer DIR``): single-id markers, the tool parser mlx-lm will
serve with, and with ``--punie-reference-tokenizer`` the chat template and a
training example's special-token positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_punie.checks import tokenizer as tk
from pytest_punie.items.checkitem import CheckItem
from pytest_punie.serving.calls import call_texts
from pytest_punie.serving.toolparser import preflight
from pytest_punie.session import punie_session

TOKENIZER_CHECKS = {
    "single-tokens": "each marker of the model family encodes to exactly its one id",
    "tool-parser": "mlx-lm's tool parser for this tokenizer reads every tool call of the training data and the suite",
    "chat-template": "the chat template renders [system, user] exactly as the reference's",
    "example-encoding": "a training example's special tokens sit where the reference puts them",
}


class TokenizerItem(CheckItem):
    """One tokenizer preflight check, before a model is trained or served with it."""

    CHECKS = TOKENIZER_CHECKS
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
        session = punie_session(self.config)
        if self.check == "tool-parser":
            data = [Path(d) for d in self.config.getoption("punie_data")]
            report = preflight(self.tokenizer, call_texts(session.suites_seen, data, self.config.rootpath))
            return report.problems()
        cand = tk.load_tokenizer(self.tokenizer)
        if self.check == "single-tokens":
            return tk.check_single_tokens(cand, self.spec)
        assert self.reference is not None
        ref = tk.load_tokenizer(self.reference)
        system, query = session.smoke_prompt()
        if self.check == "chat-template":
            return tk.check_chat_template(cand, ref, system, query)
        _, tokens, _ = tk.load_spec(self.spec)
        messages = session.training_example() or list(session.smoke_messages())
        return tk.check_example_encoding(cand, ref, messages, list(tokens))

    def reportinfo(self):
        """Where pytest says the check is: the tokenizer family's spec."""
        return self.spec, None, f"tokenizer {self.check} [{self.tokenizer}]"


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
