#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""refill - a chatty connection that then fills the proxy's queues slowly and bursts (the tests' tool).

  refill.py server PORT --bytes N [--pause-ms P]
      one connection at a time: echo 64-byte messages until the client sends
      b"BULK\\n", then read nothing for P ms (default 1500), send b"G", and read
      N bytes, each compared with the client's stream; answer b"OK\\n" or
      b"BAD offset\\n".
  refill.py down-server PORT --bytes N --tail L [--rate MIBS]
      one connection at a time: echo 64-byte messages until b"DOWN\n", then send
      N bytes (at most MIBS MiB/s until held, 0: as fast as it goes) while reading
      the client's tail to its end; print "held at K" the first time the send has
      taken no byte for 500 ms (K sent by then), and "tail ok L" or "tail BAD
      got=K" (flushed, lines of a connection).
  refill.py down-client ADDR PORT --bytes N --tail L [--turns T] [--pause-ms P]
      T round trips, b"DOWN\n", then read nothing for P ms (default 1500) while the
      N bytes come, send the L-byte tail and shut down its write side, then read
      and check the N bytes. Prints "ok bytes=N" and exits 0 when all were right.
  refill.py client ADDR PORT --bytes N [--turns T] [--rate MIBS]
      T checked 64-byte round trips (default 20), then the N-byte stream: at
      most MIBS MiB/s (default 25) until the server's b"G", then as fast as it
      goes. Prints "ok bytes=N" and exits 0 when the server saw every byte in
      order.

Sent slowly while its reader pauses, the stream fills every queue on its way without
ever going fast; when the reader comes back the queued bytes are still on their way
when the stream bursts, which is when data-path auto sees bulk on a spliced connection
and moves it back to the relay: the bytes redirected before the move are still in the
kernel's queue to the peer. The down pair half-closes after the move: the tail and the
FIN reach a socket whose psock still queues megabytes for its slow reader, and the tail
waits behind them.
"""
import random
import socket
import sys
import threading
import time

SEED = 4242


def first_diff(got, expect):
    """The first offset where @got and @expect differ (len(got) when one is a
    prefix of the other)."""
    lo, hi = 0, min(len(got), len(expect))
    step = 1 << 20
    while lo < hi and got[lo:lo + step] == expect[lo:lo + step]:
        lo += step
    while lo < hi and got[lo] == expect[lo]:
        lo += 1
    return lo


def describe_diff(got, expect):
    """Where @got leaves @expect and how: "at OFF: K bytes repeated" when it
    goes on with bytes it already had, "K bytes missing" when it skips on,
    so that a failure says which hand-over lost or doubled them."""
    at = first_diff(got, expect)
    probe = bytes(got[at:at + 4096])
    if len(probe) < 64:
        return f"at {at}: ends early ({len(got)} of {len(expect)})"
    back = bytes(expect[max(0, at - (64 << 20)):at]).rfind(probe)
    if back >= 0:
        return f"at {at}: {at - (max(0, at - (64 << 20)) + back)} bytes repeated"
    ahead = bytes(expect[at:at + (64 << 20)]).find(probe)
    if ahead >= 0:
        return f"at {at}: {ahead} bytes missing"
    return f"at {at}: bytes never sent"


def listen_on(port):
    ls = socket.socket(socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    return ls


def serve(port, one):
    """Runs one(conn) for each connection in turn; a peer that vanishes ends only its own."""
    ls = listen_on(port)
    while True:
        conn, _ = ls.accept()
        with conn:
            try:
                one(conn)
            except OSError as e:
                print(f"connection: {e}", flush=True)


def bulk_one(conn, nbytes, pause_ms, expect):
    buf = echo_until(conn, b"BULK\n")
    if buf is None:
        return
    time.sleep(pause_ms / 1000)
    conn.sendall(b"G")
    got = bytearray(buf)
    while len(got) < nbytes:
        part = conn.recv(1 << 20)
        if not part:
            break
        got += part
    if got == expect:
        conn.sendall(b"OK\n")
    else:
        conn.sendall(b"BAD %s\n" % describe_diff(got, expect).encode())


def echo_until(conn, marker):
    """Echoes 64-byte messages until @marker; what came after it, or None
    when the peer left first."""
    buf = b""
    while not buf.startswith(marker):
        part = conn.recv(65536)
        if not part:
            return None
        buf += part
        while len(buf) >= 64 and not buf.startswith(marker):
            conn.sendall(buf[:64])
            buf = buf[64:]
    return buf[len(marker):]


def report_held(sender, sent, held):
    """Prints once how far the send got when it first took nothing for 500 ms:
    what the way to a reader that stopped can hold."""
    last, still = -1, 0
    while sender.is_alive():
        time.sleep(0.1)
        still = still + 1 if sent[0] == last else 0
        last = sent[0]
        if still == 5:
            print(f"held at {last}", flush=True)
            held.set()
            return


def down_one(conn, data, expect, rate):
    rest = echo_until(conn, b"DOWN\n")
    if rest is None:
        return
    sent = [0]
    held = threading.Event()

    def send_all():
        view = memoryview(data)
        chunk = 256 << 10
        while sent[0] < len(view):
            sent[0] += conn.send(view[sent[0]:sent[0] + chunk])
            if rate and not held.is_set():
                time.sleep(chunk / (rate << 20))

    sender = threading.Thread(target=send_all)
    sender.start()
    watch = threading.Thread(target=report_held, args=(sender, sent, held))
    watch.start()
    got = bytearray(rest)
    while True:
        part = conn.recv(1 << 20)
        if not part:
            break
        got += part
    sender.join()
    watch.join()
    print(f"tail ok {len(expect)}" if got == expect else f"tail BAD got={len(got)}", flush=True)


def turns_with(s, turns):
    rng = random.Random(7)
    for _ in range(turns):
        msg = rng.randbytes(64)
        if msg[:4] in (b"BULK", b"DOWN"):
            continue
        s.sendall(msg)
        got = b""
        while len(got) < 64:
            part = s.recv(64 - len(got))
            if not part:
                return "the echo ended early"
            got += part
        if got != msg:
            return "an echo differs"
    return None


def chatty_start(addr, port, turns):
    """A connection after its checked round trips, or None (the reason printed)."""
    s = socket.create_connection((addr, port), timeout=60)
    err = turns_with(s, turns)
    if err:
        print(err)
        s.close()
        return None
    return s


def down_client(addr, port, nbytes, tail, turns, pause_ms):
    data = random.Random(SEED + 1).randbytes(nbytes)
    s = chatty_start(addr, port, turns)
    if not s:
        return 1
    s.sendall(b"DOWN\n")
    time.sleep(pause_ms / 1000)
    s.sendall(random.Random(SEED + 2).randbytes(tail))
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    while len(got) < nbytes:
        part = s.recv(1 << 20)
        if not part:
            break
        got += part
    s.close()
    if got != data:
        print(f"received {len(got)} bytes of {nbytes}, differing {describe_diff(got, data)}")
        return 1
    print(f"ok bytes={nbytes}")
    return 0


def client(addr, port, nbytes, turns, rate):
    data = random.Random(SEED).randbytes(nbytes)
    s = chatty_start(addr, port, turns)
    if not s:
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
    try:
        while off < nbytes:
            n = min(chunk, nbytes - off)
            s.sendall(data[off:off + n])
            off += n
            if not go.is_set():
                time.sleep(chunk / (rate * 1024 * 1024))
    except OSError as e:	# the server's answer below says why
        print(f"send stopped at {off}: {e}")
    t.join()
    s.close()
    reply = answer[0].decode(errors="replace").strip() if answer else ""
    if reply != "OK":
        print(f"server said: {reply or 'nothing'}")
        return 1
    print(f"ok bytes={nbytes}")
    return 0


def main(argv):
    opts = {"--bytes": 0, "--pause-ms": 1500, "--turns": 20, "--rate": 25, "--tail": 0}
    if len(argv) < 3 or argv[1] not in ("server", "client", "down-server", "down-client"):
        print(__doc__, file=sys.stderr)
        return 2
    pos = 3 if argv[1].endswith("server") else 4
    rest = argv[pos:]
    if len(rest) % 2 or any(rest[k] not in opts for k in range(0, len(rest), 2)):
        print(__doc__, file=sys.stderr)
        return 2
    for k in range(0, len(rest), 2):
        opts[rest[k]] = int(rest[k + 1])
    if argv[1] == "server":
        expect = random.Random(SEED).randbytes(opts["--bytes"])
        serve(int(argv[2]), lambda conn: bulk_one(conn, opts["--bytes"], opts["--pause-ms"], expect))
        return 0
    if argv[1] == "down-server":
        if "--rate" not in rest:
            opts["--rate"] = 0	# as fast as it goes, unless asked
        data = random.Random(SEED + 1).randbytes(opts["--bytes"])
        expect = random.Random(SEED + 2).randbytes(opts["--tail"])
        serve(int(argv[2]), lambda conn: down_one(conn, data, expect, opts["--rate"]))
        return 0
    if argv[1] == "down-client":
        return down_client(argv[2], int(argv[3]), opts["--bytes"], opts["--tail"], opts["--turns"],
                           opts["--pause-ms"])
    return client(argv[2], int(argv[3]), opts["--bytes"], opts["--turns"], opts["--rate"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
