"""The model class for a config's `arch`: one config type, one class per family."""

from __future__ import annotations

import torch.nn as nn

from roots.model.config import ModelConfig


def build_model(config: ModelConfig) -> nn.Module:
    """TransformerModel (decoder), BertModel (encoder) or Seq2SeqModel (encoder-decoder)."""
    if config.arch == "encoder":
        from roots.model.bert import BertModel

        return BertModel(config)
    if config.arch == "encoder-decoder":
        from roots.model.seq2seq import Seq2SeqModel

        return Seq2SeqModel(config)
    from roots.model.gpt import TransformerModel

    return TransformerModel(config)
