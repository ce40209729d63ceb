# kill(-1) and killing the parent: only the sandbox's own processes can be
# named, and its init ignores them; the run goes on and the host is fine.
# status: ok
# stdout-has: SURVIVED ppid=1
import os
import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
try:
    os.kill(-1, signal.SIGKILL)
except OSError as e:
    print("kill(-1):", e)
os.kill(os.getppid(), signal.SIGKILL)
os.kill(1, signal.SIGKILL)
print("SURVIVED ppid=%d" % os.getppid())
