"""GPT-style Transformer language models: one config with presets, KV-cache generation."""
