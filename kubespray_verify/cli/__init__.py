"""The `kubespray-verify` command: `main` (dispatch, one-line errors), `check` (the suite as pytest from
any directory), `expected` (print the expected state), `lab` (the local lab). Top of the engine: may
import any room of it.
"""
