"""`--fix`: pull or push whatever is missing, the way Kubespray would, once, safely.

May import every room below it (plain values, `runtimes`, `verdicts`, `resolve`, `nodes`, `registry`,
`http`); never `cli`, `lab`, or the suite's `plugins`.
"""
