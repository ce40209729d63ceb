# Only /tmp and /out are writable; the root, /usr, /etc, /data and the
# runner's files are read-only.
# status: ok
# args: --data {{DEMO}}
# stdout-has: BLOCKED 7 of 7
# stdout-has: WROTE /tmp
# stdout-has: WROTE /out
import os

blocked = 0
targets = ["/evil", "/usr/evil", "/etc/passwd", "/data/evil.csv", "/data/accounts.csv",
           "/run/ledgerbox/code.py", "/dev/evil"]
for path in targets:
    try:
        with open(path, "a") as f:
            f.write("x")
        print("WROTE", path)
    except OSError:
        blocked += 1
print("BLOCKED %d of %d" % (blocked, len(targets)))
for d in ["/tmp", "/out"]:
    with open(d + "/ok.txt", "w") as f:
        f.write("fine")
    print("WROTE", d)
