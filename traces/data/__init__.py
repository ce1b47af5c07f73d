"""Azure LLM inference 2023 length samples and the kernel characterisation table (package data)."""
