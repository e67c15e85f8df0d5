#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""refill - a chatty connection that then fills the proxy's queues slowly and bursts (the tests' tool).

  refill.py server PORT --bytes N [--pause-ms P]
      one connection at a time: echo 64-byte messages until the client sends
      b"BULK\\n", then read nothing for P ms (default 1500), send b"G", and read
      N bytes, each compared with the client's stream; answer b"OK\\n" or
      b"BAD offset\\n".
  refill.py client ADDR PORT --bytes N [--turns T] [--rate MIBS]
      T checked 64-byte round trips (default 20), then the N-byte stream: at
      most MIBS MiB/s (default 25) until the server's b"G", then as fast as it
      goes. Prints "ok bytes=N" and exits 0 when the server saw every byte in
      order.

Sent slowly while its reader pauses, the stream fills every queue on its way without
ever going fast; when the reader comes back the queued bytes are still on their way
when the stream bursts, which is when data-path auto sees bulk on a spliced connection
and moves it back to the relay: the bytes redirected before the move are still in the
kernel's queue to the peer.
"""
import random
import socket
import sys
import threading
import time

SEED = 4242


def server(port, nbytes, pause_ms):
    expect = random.Random(SEED).randbytes(nbytes)
    ls = socket.socket(socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    while True:
        conn, _ = ls.accept()
        with conn:
            buf = b""
            while True:
                part = conn.recv(65536)
                if not part:
                    break
                buf += part
                if buf.startswith(b"BULK\n"):
                    buf = buf[5:]
                    break
                while len(buf) >= 64 and not buf.startswith(b"BULK\n"):
                    conn.sendall(buf[:64])
                    buf = buf[64:]
            else:
                continue
            time.sleep(pause_ms / 1000)
            conn.sendall(b"G")
            got = bytearray(buf)
            while len(got) < nbytes:
                part = conn.recv(1 << 20)
                if not part:
                    break
                got += part
            for off in range(0, nbytes, 1 << 20):
                if got[off:off + (1 << 20)] != expect[off:off + (1 << 20)]:
                    first = next(i for i in range(off, min(nbytes, off + (1 << 20)))
                                 if i >= len(got) or got[i] != expect[i])
                    conn.sendall(b"BAD %d\n" % first)
                    break
            else:
                conn.sendall(b"OK\n" if len(got) == nbytes else b"BAD %d\n" % len(got))


def client(addr, port, nbytes, turns, rate):
    data = random.Random(SEED).randbytes(nbytes)
    rng = random.Random(7)
    s = socket.create_connection((addr, port), timeout=60)
    for _ in range(turns):
        msg = rng.randbytes(64)
        if msg.startswith(b"BULK"):
            continue
        s.sendall(msg)
        got = b""
        while len(got) < 64:
            part = s.recv(64 - len(got))
            if not part:
                print("the echo ended early")
                return 1
            got += part
        if got != msg:
            print("an echo differs")
            return 1
    s.sendall(b"BULK\n")
    go = threading.Event()
    answer = []

    def reader():
        buf = b""
        while True:
            part = s.recv(4096)
            if not part:
                break
            buf += part
            if buf.startswith(b"G"):
                go.set()
            if buf.endswith(b"\n"):
                break
        go.set()
        answer.append(buf[1:] if buf.startswith(b"G") else buf)

    t = threading.Thread(target=reader)
    t.start()
    chunk = 256 * 1024
    off = 0
    while off < nbytes:
        n = min(chunk, nbytes - off)
        s.sendall(data[off:off + n])
        off += n
        if not go.is_set():
            time.sleep(chunk / (rate * 1024 * 1024))
    t.join()
    s.close()
    reply = answer[0].decode(errors="replace").strip() if answer else ""
    if reply != "OK":
        print(f"server said: {reply or 'nothing'}")
        return 1
    print(f"ok bytes={nbytes}")
    return 0


def main(argv):
    opts = {"--bytes": 0, "--pause-ms": 1500, "--turns": 20, "--rate": 25}
    if len(argv) < 3 or argv[1] not in ("server", "client"):
        print(__doc__, file=sys.stderr)
        return 2
    pos = 3 if argv[1] == "server" else 4
    rest = argv[pos:]
    if len(rest) % 2 or any(rest[k] not in opts for k in range(0, len(rest), 2)):
        print(__doc__, file=sys.stderr)
        return 2
    for k in range(0, len(rest), 2):
        opts[rest[k]] = int(rest[k + 1])
    if argv[1] == "server":
        server(int(argv[2]), opts["--bytes"], opts["--pause-ms"])
        return 0
    return client(argv[2], int(argv[3]), opts["--bytes"], opts["--turns"], opts["--rate"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
