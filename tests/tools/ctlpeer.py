#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""ctlpeer - hostile and odd peers of sockhopd's control socket (the tests' tool).

  ctlpeer.py idle PATH N          N clients that connect and send nothing;
                                  prints "connected N", holds until SIGTERM
  ctlpeer.py flood PATH BYTES     BYTES without a newline, then prints the answer
  ctlpeer.py trickle PATH SECONDS one byte a second ("s", "e", ...); prints the
                                  answer and how long until it came
  ctlpeer.py split PATH           "serv", a pause, "ices\\n": prints the answer's
                                  first line
  ctlpeer.py raw PATH HEX         the bytes HEX (no newline added); prints the
                                  answer with Python's repr
  ctlpeer.py many PATH N [CAP]    N clients at once; once those over CAP
                                  (default 64) are refused, the rest send
                                  "services"; prints "refused=R answered=A"
  ctlpeer.py mute-server PATH     listens and never answers (for the CLI's
                                  timeout); prints "listening", then the number
                                  of connections it saw when SIGTERM ends it
"""
import select
import signal
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_all(s, timeout=30):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not b:
            break
        out += b
    return out


def hold_until_term():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "idle":
        socks = [connect(path) for _ in range(int(sys.argv[3]))]
        print("connected", len(socks), flush=True)
        hold_until_term()
    elif cmd == "flood":
        s = connect(path)
        left = int(sys.argv[3])
        chunk = b"x" * 65536
        sent = 0
        try:
            while left > 0:
                n = s.send(chunk[:min(left, len(chunk))])
                left -= n
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass
        print("sent=%d answer=%r" % (sent, read_all(s)), flush=True)
    elif cmd == "trickle":
        s = connect(path)
        t0 = time.monotonic()
        try:
            for c in b"services"[: int(sys.argv[3])]:
                s.send(bytes([c]))
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        ans = read_all(s)
        print("after=%.1fs answer=%r" % (time.monotonic() - t0, ans), flush=True)
    elif cmd == "split":
        s = connect(path)
        s.send(b"serv")
        time.sleep(0.3)
        s.send(b"ices\n")
        print(read_all(s).decode(errors="replace").splitlines()[0], flush=True)
    elif cmd == "raw":
        s = connect(path)
        s.send(bytes.fromhex(sys.argv[3]))
        print(repr(read_all(s)), flush=True)
    elif cmd == "many":
        # All connect and stay silent, so the daemon holds as many as it
        # takes; those over its cap are answered at once, which makes them
        # readable. Once as many are readable as are over the cap (or a
        # second passed), the rest send a command.
        n, cap = int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 64
        socks = [connect(path) for _ in range(n)]
        ready = set()
        deadline = time.monotonic() + 1.0
        while len(ready) < n - cap and time.monotonic() < deadline:
            for fd in select.select(socks, [], [], 0.05)[0]:
                ready.add(fd)
        refused = answered = 0
        for s in socks:
            if s in ready:
                continue
            try:
                s.send(b"services\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        for s in socks:
            ans = read_all(s)
            if b"too many control clients" in ans:
                refused += 1
            elif ans.startswith(b"service") or b"kernel splice" in ans:
                answered += 1
        print("refused=%d answered=%d" % (refused, answered), flush=True)
    elif cmd == "mute-server":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(16)
        seen = []
        srv.settimeout(0.2)

        def done(*_):
            print("connections", len(seen), flush=True)
            sys.exit(0)

        signal.signal(signal.SIGTERM, done)
        print("listening", flush=True)
        while True:
            try:
                c, _ = srv.accept()
                seen.append(c)
            except socket.timeout:
                pass
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
