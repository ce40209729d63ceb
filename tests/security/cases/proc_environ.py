# /proc shows only the sandbox's processes, so no host process's environment
# (where the secret lives) can be read.
# status: ok
# stdout-has: VISIBLE [1, 2]
# stdout-lacks: {{SECRET_FILE}}
import os

pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("VISIBLE", pids)
for pid in pids:
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            print(pid, f.read().replace(b"\0", b" ")[:400])
    except OSError as e:
        print(pid, "unreadable", e.errno)
