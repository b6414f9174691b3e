"""Step 1 of a URL's path: reading it. Lists, documents, directories, stdin and arguments become
Targets (normalised once, with their host) or results at once (invalid, excluded, unreadable)."""
