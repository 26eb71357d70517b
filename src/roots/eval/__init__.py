"""Evaluation: perplexity / bits per byte, BLEU / chrF / TER, ROUGE, classification metrics, tasks."""
