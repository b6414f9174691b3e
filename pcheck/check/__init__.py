"""Step 3: checking one URL. checker (the rules: methods, retries, redirects, verdicts), transport
(requests and urllib3, under a total deadline), netguard (--exclude-private). No processes here."""
