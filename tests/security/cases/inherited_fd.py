# The suite opens a secret file (inheritable) before starting ledgerbox:
# no descriptor of the run may point at it, or at anything of the host.
# status: ok
# stdout-has: CHECKED
# stdout-lacks: LEAK
import os

for fd in range(0, 1024):
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        continue
    if "secret" in target or target.startswith("/root") or target.startswith("/work"):
        print("LEAK", fd, target)
        try:
            print(os.read(fd, 100))
        except OSError:
            pass
print("CHECKED")
