"""`python3 -m kubespray_verify …`: the `kubespray-verify` command without relying on PATH."""

import sys

from kubespray_verify.cli.main import main

sys.exit(main())
