import sys

from specaccel.cli import main

sys.exit(main())
