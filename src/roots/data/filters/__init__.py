"""Quality filters of the published corpus recipes (Gopher, RefinedWeb, C4, FineWeb), one step per file."""
