# io_uring bypasses the system-call filter for the operations it queues:
# io_uring_setup is refused.
# status: ok
# stdout-has: io_uring_setup BLOCKED errno=1
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
r = libc.syscall(425, 8, params)
print("io_uring_setup", "BLOCKED errno=%d" % ctypes.get_errno() if r == -1 else "ALLOWED")
