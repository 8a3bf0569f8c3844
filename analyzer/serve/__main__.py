import sys

from analyzer.serve.server import main

sys.exit(main())
