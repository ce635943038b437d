"""``python -m al_bert.analysis``: see :mod:`al_bert.analysis.cli`."""

from al_bert.analysis.cli import main

raise SystemExit(main())
