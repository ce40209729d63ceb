# Connects to a listener the test opened on the host's 127.0.0.1: the
# sandbox's loopback is its own, so nothing answers.
# status: ok
# listener: yes
# stdout-has: BLOCKED refused
import socket

s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", {{PORT}}))
    print("CONNECTED")
except ConnectionRefusedError:
    print("BLOCKED refused")
except OSError as e:
    print("BLOCKED", e)
