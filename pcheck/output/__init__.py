"""Step 4: what people and machines read. Report writers per --format, the host table and hints,
watch's change lines, the progress bar (the only tqdm user), and the report stream's endings."""
