#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Idle connections for the RSS measurement of make bench.
  hold.py server PORT        accept and keep every connection until killed
  hold.py client PORT N      open N connections to 127.0.0.1:PORT, print
                             "open N", keep them until stdin closes"""
import selectors, socket, sys

if sys.argv[1] == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(sys.argv[2])))
    ls.listen(4096)
    print("listening", flush=True)
    held = []
    while True:
        held.append(ls.accept()[0])
else:
    port, n = int(sys.argv[2]), int(sys.argv[3])
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        held.append(s)
    print("open", len(held), flush=True)
    sys.stdin.read()
