"""The serving path: what mlx-lm does to a model's output before a client
sees it (the tool parser it picks, the calls it drops), checked before a
run and recorded per prompt, so that a dropped call never becomes a score."""
