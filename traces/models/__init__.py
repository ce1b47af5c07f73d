"""Shipped Hugging Face ``config.json`` files, one per model (read by :func:`ailfm.traces.models.load_model_config`)."""
