"""Let ``python -m monitor`` behave exactly like the ``mofa-monitor`` script."""

from monitor.cli.parser import main

raise SystemExit(main())
