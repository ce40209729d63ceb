# Only AF_UNIX, AF_INET and AF_INET6 sockets exist in the sandbox.
# status: ok
# stdout-has: netlink BLOCKED
# stdout-has: packet BLOCKED
# stdout-has: vsock BLOCKED
# stdout-has: unix OK
import socket

for name, family, kind in [("netlink", 16, socket.SOCK_RAW), ("packet", 17, socket.SOCK_RAW),
                           ("vsock", 40, socket.SOCK_STREAM), ("unix", socket.AF_UNIX, socket.SOCK_STREAM)]:
    try:
        socket.socket(family, kind).close()
        print(name, "OK")
    except OSError as e:
        print(name, "BLOCKED", e.errno)
