"""A copy of a built tiny model that mlx-lm serves with its ``json_tools``
parser, like the stock Qwen3 8B/14B chat template makes it do.

The chat template renders exactly the same text; it only names
``tool_call.name`` and no longer spells the Qwen3-Coder marker in one
piece, which is what mlx-lm's inference looks at; and the
``tool_parser_type`` key that fuse/convert saved is removed. Generations are
identical token for token, so every difference in the scores is the serving
path's. Used to show that such a model is caught, not scored.

    python -m pytest_punie.models.tiny.json_tools SRC_MODEL_DIR DST_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

CODER_CALL = "'<tool_call>\\n<function=' + fn.name + '>\\n'"
SPLIT_CALL = "'<tool_call>' + '\\n<function=' + (tool_call.name or fn.name) + '>\\n'"


def make_json_tools_variant(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` (which must not exist) and retemplate the copy."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise FileExistsError(f"{dst} exists: the variant is written to a new directory only")
    shutil.copytree(src, dst)
    template_path = dst / "chat_template.jinja"
    template = template_path.read_text(encoding="utf-8")
    if CODER_CALL not in template:
        shutil.rmtree(dst)
        raise ValueError(f"{src}: not the tiny model's chat template (no {CODER_CALL})")
    template_path.write_text(template.replace(CODER_CALL, SPLIT_CALL), encoding="utf-8")
    config_path = dst / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("tool_parser_type", None)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (dst / "punie-build.json").unlink(missing_ok=True)  # not a cached build: its own digest is computed
    return dst


def apply_fix(model_dir: Path, parser: str) -> None:
    """The preflight's recommended fix: name the parser in tokenizer_config.json."""
    config_path = Path(model_dir) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tool_parser_type"] = parser
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - a command for people
    if len(sys.argv) != 3:
        sys.exit("usage: python -m pytest_punie.models.tiny.json_tools SRC_MODEL_DIR DST_DIR")
    print(make_json_tools_variant(Path(sys.argv[1]), Path(sys.argv[2])))
