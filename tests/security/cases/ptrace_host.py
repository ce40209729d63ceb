# ptrace and process_vm_readv of a host process (this test's own pid): the
# pid does not exist in the sandbox, and the calls are refused outright.
# status: ok
# stdout-has: ptrace BLOCKED errno=1
# stdout-has: process_vm_readv BLOCKED errno=1
# stdout-has: kill-host BLOCKED
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
r = libc.ptrace(PTRACE_ATTACH, {{HOST_PID}}, None, None)
print("ptrace", "BLOCKED errno=%d" % ctypes.get_errno() if r == -1 else "ATTACHED")


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(64)
local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = IoVec(0x400000, 64)
libc.process_vm_readv.restype = ctypes.c_ssize_t
r = libc.process_vm_readv({{HOST_PID}}, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
print("process_vm_readv", "BLOCKED errno=%d" % ctypes.get_errno() if r == -1 else "READ")
try:
    os.kill({{HOST_PID}}, 0)
    print("kill-host REACHED")
except OSError:
    print("kill-host BLOCKED")
