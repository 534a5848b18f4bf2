"""Everything that becomes a pytest item: suite prompts, data checks,
pipeline checks, tokenizer checks, and the variants a suite runs under.

Items only ask the run's session for what they need (the response source,
the model, the suites seen) and delegate the work to plain modules."""
