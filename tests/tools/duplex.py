#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""duplex - the full-duplex pattern the recv-eagain kernel flaw breaks (the tests' tool).

  duplex.py server PORT       read to EOF, take 200 ms (a request that takes time), then
                              send every byte back and close
  duplex.py client ADDR PORT  one socket, two threads: a reader blocked in recv(),
                              and a writer that sends 1 MiB and shuts its write side
                              down. Prints "eagain=N echoed=B ok=0|1"; exits 0 when
                              every byte came back in order and recv() never failed.
"""
import socket
import sys
import threading
import time

SIZE = 1 << 20


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def server(port):
    fam = socket.AF_INET6
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    req = bytearray()
    while True:
        try:
            b = c.recv(65536)
        except BlockingIOError:
            continue        # the same flaw may hit this side: retry
        if not b:
            break
        req.extend(b)
    # the answer comes only after the request's end, and after a while,
    # so the client's reader sits blocked in recv() with no data coming
    # when its writer shuts down
    time.sleep(0.2)
    c.sendall(req)
    c.close()


def sleeping(tid):
    """Is thread tid of this process asleep (state S)?"""
    try:
        with open("/proc/self/task/%d/stat" % tid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "S"
    except OSError:
        return False


def client(addr, port):
    c = socket.create_connection((addr, port))
    want = pattern(SIZE)
    got = bytearray()
    eagain = [0]
    failed = []

    def reader():
        while True:
            try:
                b = c.recv(65536)
            except BlockingIOError:
                eagain[0] += 1      # a blocking recv() must never say this
                continue
            except OSError as e:
                failed.append(str(e))
                return
            if not b:
                return
            got.extend(b)

    t = threading.Thread(target=reader)
    t.start()
    c.sendall(want)
    # the pattern that breaks: the reader waits in recv() for the answer
    # (the server answers after EOF) when the writer shuts its side down
    for _ in range(2000):
        if t.native_id and sleeping(t.native_id):
            break
        time.sleep(0.001)
    c.shutdown(socket.SHUT_WR)
    t.join()
    ok = not failed and eagain[0] == 0 and bytes(got) == want
    print("eagain=%d echoed=%d ok=%d" % (eagain[0], len(got), int(ok)), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]))
