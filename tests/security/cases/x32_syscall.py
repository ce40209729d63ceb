# An x32 system call (bit 30 set): never reaches the kernel's x32 table.
# status: runtime_error
# signal: 31
# stdout-lacks: RETURNED
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
print("calling", flush=True)
r = libc.syscall(0x40000000 | 39)  # x32 getpid
print("RETURNED", r, ctypes.get_errno(), flush=True)
