"""The training program of `python -m llmbook.train`, one concern per module (see
`llmbook.train`, which gathers the public names)."""
