# TIOCSTI would push keystrokes into a terminal; there is none, and the
# ioctl is refused before any terminal is looked at.
# status: ok
# stdout-has: TIOCSTI BLOCKED errno=1
# stdout-has: NO TTY
import ctypes
import os
import termios

libc = ctypes.CDLL(None, use_errno=True)
c = ctypes.c_char(b"x")
r = libc.ioctl(0, termios.TIOCSTI, ctypes.byref(c))
print("TIOCSTI", "BLOCKED errno=%d" % ctypes.get_errno() if r == -1 else "ALLOWED")
try:
    os.open("/dev/tty", os.O_RDWR)
    print("HAS TTY")
except OSError:
    print("NO TTY")
