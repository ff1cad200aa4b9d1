#!/usr/bin/env python3
"""A server's reload time (nats-server or rnats) for the config `rnats bench reload` uses:
10 000 users with permissions of their own, 10 000 connections logged in,
each reload changing one user's permissions, removing one and adding one.
Time = SIGHUP sent -> "Reloaded server configuration" in the log (polled
every 0.5 ms). nats-server checks its clients inside the reload, before
that line. Usage: scripts/reload-timing.py [BINARY] [USERS] [CONNS] [RELOADS]
(BINARY: nats-server, or target/release/rnats; the same config and clients.)"""
import os, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

binary = sys.argv[1] if len(sys.argv) > 1 else "nats-server"
users = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
reloads = int(sys.argv[4]) if len(sys.argv) > 4 else 10
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def config(rnd):
    out = ["debug: false\nno_auth_user: u0\nauthorization { users = [\n"]
    changed = rnd % users
    for i in range(users - 1):
        extra = f', "r{rnd}.>"' if i == changed and rnd > 0 else ""
        out.append(f'  {{user: u{i}, password: p{i}, permissions: {{publish: ["u{i}.>", "bench.>"{extra}], subscribe: ["u{i}.>", "bench.>", "_INBOX.>"]}}}}\n')
    last = f"u{users-1}" if rnd == 0 else f"new{rnd}"
    out.append(f"  {{user: {last}, password: x}}\n] }}\n")
    return "".join(out)

d = tempfile.mkdtemp()
conf, log = os.path.join(d, "users.conf"), os.path.join(d, "server.log")
open(conf, "w").write(config(0))
# An OS-picked port (-p -1), read back from the startup log.
p = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", "-1", "-c", conf, "-l", log])
deadline = time.time() + 30
while time.time() < deadline and not (os.path.exists(log) and "Server is ready" in open(log).read()):
    time.sleep(0.05)
listening = [l for l in open(log) if "Listening for client connections on" in l]
if not listening:
    sys.exit("the server did not start:\n" + open(log).read())
port = int(listening[0].rsplit(":", 1)[1])
socks = []
for i in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    u = i % (users - 1)
    s.sendall(f'CONNECT {{"verbose":false,"pedantic":false,"user":"u{u}","pass":"p{u}"}}\r\nSUB u{u}.x 1\r\nPING\r\n'.encode())
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    socks.append(s)
times = []
for rnd in range(1, reloads + 1):
    before = open(log).read().count("Reloaded server configuration")
    open(conf, "w").write(config(rnd))
    t0 = time.perf_counter()
    p.send_signal(signal.SIGHUP)
    while open(log).read().count("Reloaded server configuration") == before:
        if time.perf_counter() - t0 > 60:
            sys.exit("no reload within 60 s")
        time.sleep(0.0005)
    times.append((time.perf_counter() - t0) * 1000)
for s in socks:
    s.close()
p.terminate(); p.wait()
shutil.rmtree(d, ignore_errors=True)
print(f"{binary}: {users} users, {conns} connections, {reloads} reloads: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
