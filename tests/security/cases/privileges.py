# No capabilities (effective, permitted, bounding, ambient), no_new_privs,
# seccomp in filter mode, and a /dev holding only the harmless devices.
# status: ok
# stdout-has: CapEff: 0000000000000000
# stdout-has: CapPrm: 0000000000000000
# stdout-has: CapBnd: 0000000000000000
# stdout-has: CapAmb: 0000000000000000
# stdout-has: NoNewPrivs: 1
# stdout-has: Seccomp: 2
# stdout-has: DEV fd,null,random,shm,stderr,stdin,stdout,urandom,zero
# stdout-has: HOSTNAME ledgerbox
import os
import socket

with open("/proc/self/status") as f:
    for line in f:
        if line.split(":")[0] in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
            print(line.strip().replace("\t", " "))
print("DEV " + ",".join(sorted(os.listdir("/dev"))))
print("HOSTNAME " + socket.gethostname())
