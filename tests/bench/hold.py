#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Idle connections for the RSS measurement of make bench.
  hold.py server PORT        accept connections and keep each one until its
                             peer closes (then close it, so that the proxy's
                             half-closed pair goes away between rounds)
  hold.py client PORT N      open N connections to 127.0.0.1:PORT, print
                             "open N", keep them until stdin closes"""
import selectors, socket, sys

if sys.argv[1] == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(sys.argv[2])))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
            else:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, ConnectionError):
                    data = b"" if not isinstance(sys.exc_info()[1], BlockingIOError) else None
                if data == b"":
                    sel.unregister(s)
                    s.close()
else:
    port, n = int(sys.argv[2]), int(sys.argv[3])
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.append(s)
    print("open", len(held), flush=True)
    sys.stdin.read()
