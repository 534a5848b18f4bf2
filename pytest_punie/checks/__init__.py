"""Pipeline checks: training logs, adapters, fused and quantized models.

Plain functions that return the problems they find (empty: the check
holds), each naming the file (and line) it is about."""
