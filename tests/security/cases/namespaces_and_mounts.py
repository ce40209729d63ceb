# mount, umount, pivot_root, unshare, setns, clone with new namespaces and a
# new user namespace are all refused.
# status: ok
# stdout-has: BLOCKED 8 of 8
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
SIGCHLD = 17
tries = {
    "mount": lambda: libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None),
    "umount": lambda: libc.umount2(b"/proc", 2),
    "pivot_root": lambda: libc.syscall(155, b"/tmp", b"/tmp"),
    "unshare-user": lambda: libc.unshare(CLONE_NEWUSER),
    "unshare-mount": lambda: libc.unshare(CLONE_NEWNS),
    "setns": lambda: libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0),
    "clone-newuser": lambda: libc.syscall(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "clone-newnet": lambda: libc.syscall(56, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0),
}
blocked = 0
for name, call in tries.items():
    r = call()
    if r == 0:
        os._exit(0) if name.startswith("clone") else None
        print(name, "ALLOWED")
    else:
        blocked += 1
        print(name, "errno", ctypes.get_errno())
print("BLOCKED %d of %d" % (blocked, len(tries)))
