"""`roots finetune`: full fine-tuning and parameter-efficient adapters (LoRA, prefix, prompt tuning)."""
