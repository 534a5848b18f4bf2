"""Maintainers' code, never installed with the plugin: the generator of the embedded training data
(``python -m maintainer.datagen``) and the builder of a model of the users' real shape (tests and
benchmarks)."""
