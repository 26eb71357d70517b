"""Curation: crawl -> clean corpus (readers, extraction, language ID, filters, dedup, writers)."""
