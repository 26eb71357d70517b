"""Document filters: one small class per rule, registered in roots.data.registry."""
