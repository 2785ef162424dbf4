"""LLM / transformer sequence classifiers: config, builders, training recipe, inference, adapters."""
