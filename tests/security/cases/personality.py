# personality: reading it and keeping plain Linux work; any other
# personality (no address randomisation, executable data, 32-bit
# emulation) is refused with EPERM, whatever the upper bits hold.
# status: ok
# stdout-has: query OK 0
# stdout-has: linux OK
# stdout-has: ADDR_NO_RANDOMIZE BLOCKED errno=1
# stdout-has: READ_IMPLIES_EXEC BLOCKED errno=1
# stdout-has: PER_LINUX32 BLOCKED errno=1
# stdout-has: high-bits BLOCKED errno=1
# stdout-has: still 0
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
QUERY, PER_LINUX, PER_LINUX32 = 0xFFFFFFFF, 0, 8
ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC = 0x0040000, 0x0400000
print("query OK", libc.syscall(135, QUERY))
print("linux", "OK" if libc.syscall(135, PER_LINUX) == 0 else "FAILED")
for name, persona in [("ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE), ("READ_IMPLIES_EXEC", READ_IMPLIES_EXEC),
                      ("PER_LINUX32", PER_LINUX32), ("high-bits", (1 << 32) | ADDR_NO_RANDOMIZE)]:
    r = libc.syscall(135, persona)
    print(name, "BLOCKED errno=%d" % ctypes.get_errno() if r == -1 else "ALLOWED (was %d)" % r)
print("still", libc.syscall(135, QUERY))
