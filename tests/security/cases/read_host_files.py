# Host secrets: /etc/shadow, the test's home, ledgerbox's state files and a
# host file holding a secret are not in the sandbox, also not through /proc.
# status: ok
# stdout-has: BLOCKED 7 of 7
import os

paths = ["/etc/shadow", "{{HOME}}", "{{STATE_DIR}}/ledgerbox.db", "{{SECRET_FILE}}",
         "/proc/1/root/etc/shadow", "/oldroot/etc/shadow", "/root"]
blocked = 0
for p in paths:
    try:
        if os.path.isdir(p):
            print("LISTED", p, os.listdir(p))
        else:
            with open(p) as f:
                print("READ", p, f.read(100))
    except OSError:
        blocked += 1
print("BLOCKED %d of %d" % (blocked, len(paths)))
