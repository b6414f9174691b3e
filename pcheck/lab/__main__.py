"""`python -m pcheck.lab [HOSTS]`: serve the local site until stdin closes (CI's smoke run uses it)."""

from pcheck.lab.site import main

raise SystemExit(main())
