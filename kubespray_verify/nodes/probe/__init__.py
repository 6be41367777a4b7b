"""The node probe: what runs on a node, standard library only, Python 3.8 or newer.

`script` is sent in one SSH command and answers in one JSON document; `http_prober` is shipped with it
and makes the node's own HTTP probes. Neither imports anything of the suite: they run where it is not
installed.
"""
