"""What outlives a run: the verdict cache (--cache) and the report a run carries on (--resume)."""
