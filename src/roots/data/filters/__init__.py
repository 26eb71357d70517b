"""Document filters and editing steps (one small class each), registered in roots.data.registry."""
