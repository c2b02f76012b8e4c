import sys

from slo_monitor.cli import main

sys.exit(main())
