"""al-bert tests (a regular package: a site-packages ``tests`` package, e.g. small-text 1.4's, must not shadow it)."""
