"""The embedded tiny Punie model: data, tokenizer, model and pipeline, built
by the project itself so a fresh clone can run the main job with no model."""
