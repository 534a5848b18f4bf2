"""One request per greedy prompt: the format lock comes from the answer's own ``top_logprobs``, and the
token ids are read back as each position's most likely alternative, as mlx_lm server lists them (its
entry at each position is an alternative in ``argpartition`` order, not the generated token). Checked
against a brute-force argmax, and against fake servers that count the requests they get."""

from __future__ import annotations

import json
import random

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.backends import ChatRequest
from pytest_punie.backends.httpclient import HttpBackend, greedy_choice
from pytest_punie.suite.suitetypes import Sampling

from ..faults.fakeserver import fake_server

VOCAB = ["<tool_call>", "</tool_call>", "<|im_end|>", "a", "b", "c", "d", "e", "f", "g", "h", "i"]


@given(st.lists(st.sampled_from([-0.5, -1.0, -2.0, -3.0, -7.25]), min_size=12, max_size=40), st.randoms())
def test_the_greedy_token_is_the_most_likely_alternative_lowest_id_on_a_tie(values, rnd):
    dense = np.array(values)
    k = rnd.randint(1, min(11, len(values)))
    top = list(np.argpartition(-dense, k - 1)[:k])  # what mlx_lm server lists, in its own order
    rnd.shuffle(top)
    got = greedy_choice([(int(i), float(dense[i])) for i in top])
    ties = int((dense == dense.max()).sum())
    if ties < k:  # every token tied at the top is listed, and one listed is not: the choice is known
        assert got == int(np.argmax(dense))  # mlx's argmax, like numpy's, takes the first
    else:  # all listed tie: a token not listed may tie them too
        assert got is None


def tokenizer_file(tmp_path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="a"))
    tok.add_special_tokens(["<|im_end|>"])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def served(generated: list[int], rnd: random.Random, listed: bool) -> dict:
    """An mlx_lm-server-shaped reply: each position's entry is an alternative, not the token chosen."""
    content = []
    for token in generated:
        logprobs = {i: -5.0 - rnd.random() for i in range(len(VOCAB))}
        logprobs[token] = -0.1  # greedy chose it: the most likely
        top = [{"id": i, "token": VOCAB[i], "logprob": lp} for i, lp in logprobs.items()][:11]
        top.sort(key=lambda t: t["id"] == token)  # the chosen token listed last: the entry is never it
        content.append(dict(top[0], top_logprobs=top) if listed else {"id": token, "logprob": -0.1})
    text = " ".join(VOCAB[t] for t in generated[:-1])
    return {
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                     "logprobs": {"content": content}}],
    }  # fmt: skip


def counting(generated: list[int], listed: bool = True):
    """A fake server answering every request with ``generated``; the bodies it got, in order."""
    bodies: list[dict] = []
    rnd = random.Random(7)

    def respond(h) -> None:
        body = json.loads(h.body)
        bodies.append(body)
        reply = served(generated[: body["max_tokens"]], rnd, listed and bool(body.get("top_logprobs")))
        h._send(200, json.dumps(reply).encode())

    return respond, bodies


def ask(url: str, tmp_path, temperature: float = 0.0):
    req = ChatRequest("p#0", ({"role": "user", "content": "q"},), Sampling(temperature=temperature, timeout_s=10))
    return HttpBackend(url, "m", tokenizer_file=tokenizer_file(tmp_path)).complete([req])[0]


def test_a_greedy_prompt_is_one_request_its_ids_and_lock_read_from_the_answer(tmp_path):
    generated = [0, 3, 4, 5, 2]  # <tool_call> a b c <|im_end|>
    respond, bodies = counting(generated)
    with fake_server(respond) as (url, _got):
        record = ask(url, tmp_path)
    assert len(bodies) == 1 and bodies[0]["top_logprobs"] == 11 and bodies[0]["logprobs"] is True
    punie = record.response["punie"]
    assert punie["token_ids"] == [0, 3, 4, 5]  # the stop token dropped, as in-process
    first = punie["first_position"]
    assert first["opener_id"] == 0 and first["logp_opener"] == -0.1 and "bound" not in first


def test_a_server_giving_no_alternatives_leaves_the_lock_not_measured_and_asks_once(tmp_path):
    respond, bodies = counting([3, 4, 2], listed=False)
    with fake_server(respond) as (url, _got):
        record = ask(url, tmp_path)
    assert len(bodies) == 1
    assert "first_position" not in record.response["punie"] and record.response["punie"]["token_ids"] == [3, 4]
    assert record.response["choices"][0]["message"]["content"] == "a b"  # the answer itself unchanged


def test_a_sampled_prompt_keeps_its_ids_and_asks_its_lock_apart(tmp_path):
    respond, bodies = counting([0, 3, 2])
    with fake_server(respond) as (url, _got):
        record = ask(url, tmp_path, temperature=0.7)
    assert len(bodies) == 2 and "top_logprobs" not in bodies[0]  # a sampled token need not be listed
    assert bodies[1]["max_tokens"] == 1 and bodies[1]["temperature"] == 0.0 and bodies[1]["top_logprobs"] == 11
    assert record.response["punie"]["token_ids"] == [0, 3]
    assert record.response["punie"]["first_position"]["logp_opener"] == -0.1
