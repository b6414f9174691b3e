"""`python -m pcheck.lab [HOSTS] [--tls CHAIN KEY]`: serve the local site until stdin closes (CI's smoke run uses it; --help)."""

from pcheck.lab.site import main

raise SystemExit(main())
