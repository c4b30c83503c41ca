#!/usr/bin/python3
"""web-bad.py: raw HTTP/1.1 requests to a running kiln serve on 127.0.0.1
(tests/cli/test-web-bad.sh). Raw sockets, so that anything can be sent:
bytes >= 0x80 in the target, odd methods, versions and headers.

  web-bad.py targets PORT ROUTES_C UI_DIR TOKEN
      Every route of the route table in ROUTES_C (web/routes.c), /healthz,
      /metrics and each file of the status page (UI_DIR), with each bad
      sequence of BAD in its path and in its query. Each must get a JSON
      400 {"error": ...}. Prints the requests that did not, then
      "N requests, M wrong".

  web-bad.py send PORT [-n N] [--method M] [--target T] [--host H |
                        --no-host] [--header 'K: V']... [--src IP]
                        [--body B] [--show HEADER]
      Sends the request N times, one connection each, and prints the
      statuses ("none": no answer), then HEADER=VALUE of the last answer.

  web-bad.py head PORT TARGET [--header 'K: V']...
      On one connection, HEAD TARGET and then GET /healthz: the HEAD's
      answer must be headers only, so the next bytes are /healthz's
      answer. Prints "STATUS content-length=N then HEALTHZ_STATUS", or
      what came between the two answers.

  web-bad.py fuzz PORT [--seed S] [--count N] [--token T] [--src IP]
      N generated requests (fixed seed: the same ones every time): random
      methods, targets built from the route table with random %-escapes,
      invalid UTF-8, overlong forms, surrogates, raw bytes, dot segments,
      queries, headers, Host values and bodies. Fails (exit 1) when the
      daemon stops answering or answers anything with a 5xx. Prints each
      5xx and a summary by status.
"""
import argparse
import json
import os
import random
import re
import socket
import sys
import time

# Bad sequences: invalid UTF-8 (lone continuation, overlong forms,
# surrogates, past U+10FFFF, truncated), control characters, malformed
# escapes, and raw bytes that must be %-encoded.
BAD = [
    b"%ff", b"%fe%ff", b"%c0%af", b"%c1%bf", b"%80", b"%bf",
    b"%e0%80%af", b"%f0%80%80%af", b"%f8%88%80%80%80",
    b"%ed%a0%80", b"%ed%bf%bf", b"%f4%90%80%80", b"%e2%82", b"%f0%9f%98",
    b"%00", b"%0a", b"%1b", b"%7f", b"%c2%85",
    b"%f", b"%zz", b"%", b"%g0",
    b"\xff", b"\xc0\xaf", b"\x80", b"\xe2\x82\xac",
]

# A row of the route table: {"GET", "runs/:id", kiln_web__get_run, true}
# (a row may be broken across lines).
ROUTE = re.compile(r'\{"(GET|POST)",\s*"([^"]+)",\s*\w+,\s*[\w_]+,\s*(?:true|false)\}')


def build(method, target, host=b"127.0.0.1", headers=(), body=None,
          version=b"HTTP/1.1"):
    r = method + b" " + target + b" " + version + b"\r\n"
    if host is not None:
        r += b"Host: " + host + b"\r\n"
    for h in headers:
        r += h + b"\r\n"
    if body is not None:
        r += b"Content-Length: %d\r\n" % len(body)
    return r + b"Connection: close\r\n\r\n" + (body or b"")


def request(port, raw, src=None, timeout=5.0):
    """Send raw as one request: (status, headers, body), or None when the
    connection ended (or timed out) without an answer. A chunked answer
    (an event stream) is not waited for: its headers are enough."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if src:
            s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        if b"\r\n\r\n" not in buf:
            return None
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = \
                v.strip().decode("latin-1")
        n = headers.get("content-length")
        if n is not None and not raw.startswith(b"HEAD "):
            while len(body) < int(n):
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        return status, headers, body
    except (OSError, ValueError, IndexError):
        return None
    finally:
        s.close()


def routes_of(routes_c, ui_dir):
    """(method, path) of every route, with its parameters filled in."""
    api = ROUTE.findall(open(routes_c).read())
    if len(api) < 10:
        sys.exit("web-bad.py: found only %d routes in %s: has the table's "
                 "layout changed?" % (len(api), routes_c))
    out = [(m.encode(), b"/api/v1/" + p.replace(":id", "1")
            .replace(":name", "web").replace(":step", "web").encode())
           for m, p in api]
    out += [(b"GET", b"/healthz"), (b"GET", b"/metrics"), (b"GET", b"/login"),
            (b"POST", b"/login"), (b"POST", b"/logout")]
    for f in sorted(os.listdir(ui_dir)):
        out.append((b"GET", b"/" if f == "index.html" else
                    b"/" + f.encode()))
    return out


def cmd_targets(a):
    wrong = total = 0
    for method, path in routes_of(a.routes_c, a.ui_dir):
        segs = path.split(b"/")
        for bad in BAD:
            targets = [
                path + bad,                              # the last segment
                b"/".join(segs[:-1] + [bad]),            # replaced
                b"/".join(segs[:2] + [bad] + segs[2:]),  # an inner one
                path + b"?limit=" + bad,                 # a query value
                path + b"?" + bad + b"=1",               # a query name
                path + b"?a=1&b=" + bad,                 # a later one
            ]
            for t in targets:
                hdrs = [b"Authorization: Bearer " + a.token.encode()] \
                    if method == b"POST" else []
                r = request(a.port, build(method, t, headers=hdrs,
                                          body=b"{}" if method == b"POST"
                                          else None))
                total += 1
                ok = False
                if r and r[0] == 400:
                    try:
                        ok = isinstance(json.loads(r[2])["error"], str)
                    except (ValueError, KeyError, TypeError):
                        pass
                if not ok:
                    wrong += 1
                    if wrong <= 20:
                        print("%s %r -> %s" % (method.decode(), t,
                              "no answer" if r is None else
                              "%d %r" % (r[0], r[2][:120])))
    print("%d requests, %d wrong" % (total, wrong))
    return 0


def cmd_send(a):
    out = []
    r = None
    for _ in range(a.n):
        hdrs = [os.fsencode(h) for h in a.header]
        r = request(a.port, build(
            os.fsencode(a.method), os.fsencode(a.target),
            None if a.no_host else os.fsencode(a.host), hdrs,
            None if a.body is None else os.fsencode(a.body)), src=a.src)
        out.append("none" if r is None else str(r[0]))
    if a.show:
        out.append("%s=%s" % (a.show, r[1].get(a.show.lower(), "")
                              if r else ""))
    print(" ".join(out))
    return 0


def cmd_head(a):
    hdrs = [os.fsencode(h) for h in a.header]
    first = b"HEAD " + os.fsencode(a.target) + b" HTTP/1.1\r\nHost: " \
        b"127.0.0.1\r\n" + b"".join(h + b"\r\n" for h in hdrs) + b"\r\n"
    second = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
        b"Connection: close\r\n\r\n"
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(first + second)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass  # a stream that never ends: what came is judged
    s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 "):
        print("no answer: %r" % buf[:200])
        return 0
    length = [l.split(b":", 1)[1].strip().decode() for l in lines[1:]
              if l.lower().startswith(b"content-length:")]
    out = lines[0].split()[1].decode() + " content-length=" + \
        (",".join(length) or "none")
    if rest.startswith(b"HTTP/1.1 "):
        print(out + " then " + rest.split()[1].decode())
    else:
        print(out + " then %r" % rest[:80])
    return 0


# Fuzzing.

OVERLONG = [b"%c0%80", b"%c0%ae", b"%c1%81", b"%e0%80%80", b"%e0%9f%bf",
            b"%f0%80%80%80", b"%f0%8f%bf%bf", b"%c0%af", b"%e0%80%ae"]
PARAMS = [b"limit", b"before", b"status", b"pipeline", b"direction",
          b"depth", b"attempt", b"offset", b"key", b"runs", b"x", b""]
METHODS = [b"GET"] * 10 + [b"POST"] * 3 + [b"HEAD"] * 2 + [
    b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"FOO", b"get",
    b"G\xffT", b"GE\x00T", b"M-SEARCH", b"X" * 300, b"\xc3\xa9"]


def pct(rnd, b):
    return b"".join(b"%%%02x" % c if rnd.random() < .5 else
                    b"%%%02X" % c for c in b)


def junk(rnd):
    """One fragment of a target: mostly something a decoder must refuse
    or handle with care."""
    k = rnd.randrange(20)
    if k == 0:
        return b"%%%02x" % rnd.randrange(256)
    if k == 1:
        return rnd.choice(OVERLONG)
    if k == 2:   # a surrogate
        return b"%%ed%%%02x%%%02x" % (rnd.randrange(0xa0, 0xc0),
                                      rnd.randrange(0x80, 0xc0))
    if k == 3:   # valid UTF-8, %-encoded
        cp = rnd.choice([rnd.randrange(0x80, 0x800),
                         rnd.randrange(0x800, 0xd800),
                         rnd.randrange(0xe000, 0x10000),
                         rnd.randrange(0x10000, 0x110000)])
        return pct(rnd, chr(cp).encode())
    if k == 4:   # a random byte string, %-encoded
        return pct(rnd, bytes(rnd.randrange(256)
                         for _ in range(rnd.randrange(1, 6))))
    if k == 5:   # raw bytes >= 0x80
        return bytes(rnd.randrange(0x80, 0x100)
                     for _ in range(rnd.randrange(1, 4)))
    if k == 6:   # raw control bytes (not CR or LF: the framing stays)
        return bytes([rnd.choice([0, 1, 9, 0x1b, 0x7f])])
    if k == 7:
        return rnd.choice([b"%", b"%f", b"%zz", b"%%", b"%-1", b"%+f"])
    if k == 8:
        return rnd.choice([b"..", b".", b"%2e%2e", b"%2e", b".%2e",
                           b"%2f", b"%5c", b"//", b"/../", b"/./"])
    if k == 9:
        return rnd.choice([b"?", b"&", b"=", b"+", b"#", b";", b"?&=",
                           b"&&", b"=="])
    if k == 10:
        return b"a" * rnd.choice([1, 100, 1000, 5000])
    if k == 11:
        return pct(rnd, "é".encode()) * rnd.choice([1, 299, 300, 301, 1000])
    if k == 12:
        return str(rnd.choice([0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 64,
                               10 ** 30, 999999])).encode()
    if k == 13:
        return rnd.choice([b"web", b"first", b"nope", b"1", b"WEB",
                           b"web-2", b"_", b"-"])
    if k == 14:
        return rnd.choice([b"%c3%a9", b"%e2%82%ac", b"%f0%9f%98%80",
                           b"%ef%bb%bf", b"%e2%80%ae"])
    if k == 15:
        return rnd.choice([b"%c2%80", b"%c2%9f", b"%c2%a0", b"%df%bf",
                           b"%ef%bf%bf", b"%f4%8f%bf%bf"])
    return rnd.choice([b"runs", b"pipelines", b"log", b"steps", b"models",
                       b"api", b"v1", b"events", b"metrics", b"healthz"])


def mutate(rnd, t):
    for _ in range(rnd.randrange(1, 4)):
        i = rnd.randrange(len(t) + 1)
        op = rnd.randrange(3)
        if op == 0:
            t = t[:i] + junk(rnd) + t[i:]
        elif op == 1 and len(t) > 1:
            t = t[:i] + junk(rnd) + t[i + 1:]
        else:
            t = t + junk(rnd)
    return t


def gen(rnd, routes, port, token):
    method = rnd.choice(METHODS)
    rmethod, path = rnd.choice(routes)
    if rnd.random() < .3:
        method = rmethod
    t = path
    if rnd.random() < .8:
        t = mutate(rnd, t)
    if rnd.random() < .5:
        q = []
        for _ in range(rnd.randrange(1, 5)):
            name = rnd.choice(PARAMS) if rnd.random() < .8 else junk(rnd)
            q.append(name + b"=" + junk(rnd) if rnd.random() < .9 else name)
        t += b"?" + b"&".join(q)
    if rnd.random() < .03:
        t = rnd.choice([b"*", b"http://127.0.0.1/healthz", b"", b"healthz",
                        b"\\healthz"])
    p = b"%d" % port
    host = rnd.choice([b"127.0.0.1:" + p] * 6 + [b"localhost:" + p,
                       b"[::1]:" + p, b"localhost", b"127.0.0.1"])
    if rnd.random() < .1:
        host = rnd.choice([None, b"", b"evil.example", b"127.0.0.1.evil",
                           b"localhost:" + junk(rnd), junk(rnd), b"[::1",
                           b"[::2]", b"::1", b"127.0.0.1:99999999",
                           b"\xff\xfe", b"localhost:8080:80", b"[]:80"])
    hdrs = []
    for _ in range(rnd.randrange(0, 4)):
        k = rnd.randrange(8)
        if k == 0:
            hdrs.append(b"Authorization: Bearer " +
                        (token.encode() if token and rnd.random() < .3
                         else junk(rnd)))
        elif k == 1:
            hdrs.append(b"Authorization: " + junk(rnd))
        elif k == 2:
            hdrs.append(b"Content-Type: " + rnd.choice(
                [b"application/json", junk(rnd)]))
        elif k == 3:
            hdrs.append(b"X-" + bytes(rnd.choice(b"abcXYZ-_")
                                      for _ in range(5)) + b": " + junk(rnd))
        elif k == 4:
            hdrs.append(b"Accept: " + junk(rnd))
        elif k == 5:
            hdrs.append(b"Cookie: a=" + junk(rnd))
        elif k == 6:
            hdrs.append(b"Origin: http://" + rnd.choice(
                [b"evil.example", b"127.0.0.1", junk(rnd)]))
        else:
            hdrs.append(b"Host: " + rnd.choice([b"evil.example",
                                                b"127.0.0.1"]))
    body = None
    if method == b"POST" or rnd.random() < .1:
        body = rnd.choice([
            b"", b"{}", b"[]", b"null", b"{", b'{"params": ',
            b'{"params": {"n": "1"}}', b'{"params": {"n": 0.5}}',
            b'{"params": []}', b'{"params": {"n": {}}}',
            b'{"commit": 5}', b'{"commit": "deadbeef"}',
            b'{"version": 1}', b'{"version": "x"}', b'{"version": -1}',
            b'{"version": 1e300}', b"[" * 5000, b'"\xff\xfe"',
            b'{"params": {"\xff": "1"}}', b'{"a": "\\ud800"}',
            b"\x00" * 10, bytes(rnd.randrange(256) for _ in range(64))])
    version = b"HTTP/1.1" if rnd.random() < .9 else rnd.choice(
        [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9", b"HTTP/1.1x", b"http/1.1",
         b"HTTP/1", b""])
    return build(method, t, host, hdrs, body, version)


def alive(port):
    r = request(port, build(b"GET", b"/healthz"), timeout=10)
    return r is not None and r[0] == 200


def cmd_fuzz(a):
    rnd = random.Random(a.seed)
    routes = routes_of(a.routes_c, a.ui_dir) + [(b"GET", b"/api/v1/nope")]
    counts = {}
    fives = 0
    start = time.time()
    for i in range(a.count):
        raw = gen(rnd, routes, a.port, a.token)
        r = request(a.port, raw, src=a.src, timeout=3)
        key = "none" if r is None else str(r[0])
        counts[key] = counts.get(key, 0) + 1
        if r is not None and r[0] >= 500:
            fives += 1
            if fives <= 20:
                print("5xx: %r -> %d %r" % (raw[:300], r[0], r[2][:200]))
        if (r is None or i % 200 == 199) and not alive(a.port):
            print("the daemon stopped answering after request %d: %r"
                  % (i + 1, raw[:300]))
            return 1
    print("%d requests in %.1f s, by status: %s" % (
        a.count, time.time() - start,
        " ".join("%s:%d" % kv for kv in sorted(counts.items()))))
    return 1 if fives else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets")
    t.add_argument("port", type=int)
    t.add_argument("routes_c")
    t.add_argument("ui_dir")
    t.add_argument("token")
    s = sub.add_parser("send")
    s.add_argument("port", type=int)
    s.add_argument("-n", type=int, default=1)
    s.add_argument("--method", default="GET")
    s.add_argument("--target", default="/healthz")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--no-host", action="store_true")
    s.add_argument("--header", action="append", default=[])
    s.add_argument("--src")
    s.add_argument("--body")
    s.add_argument("--show")
    h = sub.add_parser("head")
    h.add_argument("port", type=int)
    h.add_argument("target")
    h.add_argument("--header", action="append", default=[])
    f = sub.add_parser("fuzz")
    f.add_argument("port", type=int)
    f.add_argument("routes_c")
    f.add_argument("ui_dir")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--count", type=int, default=2000)
    f.add_argument("--token")
    f.add_argument("--src")
    a = ap.parse_args()
    return {"targets": cmd_targets, "send": cmd_send, "head": cmd_head,
            "fuzz": cmd_fuzz}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
