"""A Qwen2-style byte-level BPE tokenizer trained on the project's own chats.

ChatML and tool markers are single tokens, as in the real Qwen tokenizers;
the chat template names ``<tool_call>\\n<function=`` so mlx-lm picks its
``qwen3_coder`` tool parser, like it does for the production model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]


def tool_tokens() -> list[str]:
    """The wrapper and the 26 sandbox functions, one token each: a 2-layer
    model then picks a tool in one step instead of assembling its name."""
    from pytest_punie.toolsurface import load_surface

    surface = load_surface()
    return [surface.wrapper, *surface.tools]


VOCAB_SIZE = 2048

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' and message.tool_calls %}"
    "{{- '<|im_start|>assistant\\n' + (message.content or '') }}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- set fn = tool_call.function if tool_call.function else tool_call %}"
    "{{- '<tool_call>\\n<function=' + fn.name + '>\\n' }}"
    "{%- for key, value in fn.arguments.items() %}"
    "{{- '<parameter=' + key + '>\\n' + (value | string) + '\\n</parameter>\\n' }}"
    "{%- endfor %}"
    "{{- '</function>\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def chat_texts(data_dir: Path) -> Iterator[str]:
    """Every example rendered as chat text, to train the tiny BPE tokenizer on."""
    for split in ("train", "valid", "test"):
        path = data_dir / f"{split}.jsonl"
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                for msg in json.loads(line)["messages"]:
                    yield f"<|im_start|>{msg['role']}\n{msg['content']}<|im_end|>\n"


def train_tokenizer(data_dir: Path, out_dir: Path) -> Path:
    """Train and save (tokenizer.json, tokenizer_config.json, chat_template.jinja)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(ADDED) - len(tool_tokens()),
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(chat_texts(data_dir), trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED + tool_tokens()])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return out_dir
