# Any address beyond loopback is unreachable: there is no route. (The
# address is from the documentation range; no packet leaves the sandbox's
# network namespace.)
# status: ok
# stdout-has: BLOCKED unreachable
# stdout-has: BLOCKED dns
import errno
import socket

s = socket.socket()
s.settimeout(2)
try:
    s.connect(("192.0.2.1", 80))
    print("CONNECTED")
except OSError as e:
    print("BLOCKED unreachable" if e.errno == errno.ENETUNREACH else "OTHER %r" % e)
try:
    socket.getaddrinfo("example.com", 443)
    print("RESOLVED")
except OSError:
    print("BLOCKED dns")
