#!/usr/bin/env python3
"""Password guessing against the proxy for the auth slow-down test.

  auth_guesses.py PROXY_HOST PROXY_PORT SOURCE_IP URL COUNT DEADLINE_SECONDS
      opens COUNT connections at once from SOURCE_IP, each sending one request with a wrong Basic password; prints
      how many got a 407 within DEADLINE_SECONDS of the start ("answered N"), and how many got anything else
      ("other N").
"""
import base64
import socket
import sys
import threading
import time


def main(argv):
    host, port, source, url, count, deadline = argv[1], int(argv[2]), argv[3], argv[4], int(argv[5]), float(argv[6])
    start = time.monotonic()
    results = []
    lock = threading.Lock()
    errors = []

    def guess(i):
        status = None
        try:
            sock = socket.create_connection((host, port), timeout=deadline, source_address=(source, 0))
            token = base64.b64encode(f"alice:guess{i}".encode()).decode()
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {token}\r\n\r\n".encode())
            sock.settimeout(max(0.01, deadline - (time.monotonic() - start)))
            status = sock.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError) as e:
            errors.append(repr(e))
        with lock:
            results.append((status, time.monotonic() - start))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"answered {sum(1 for s, t in results if s == '407' and t <= deadline)}")
    print(f"other {sum(1 for s, t in results if s is not None and s != '407')}")
    answers = sorted(t for s, t in results if s == '407')
    print(f"errors {len(errors)} {errors[:1]}")
    print("first 407 after " + (f"{answers[0]:.3f} s" if answers else "never"))


if __name__ == "__main__":
    main(sys.argv)
