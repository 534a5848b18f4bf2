"""pytest-punie: evaluate and validate LoRA fine-tuned MLX models with pytest.

Importing this package is cheap: no mlx, no model, no server. The pytest
plugin lives in :mod:`pytest_punie.plugin`.
"""

__version__ = "0.1.0"
