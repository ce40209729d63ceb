# A 32-bit system call through `int 0x80` (getpid, number 20) would walk
# around a filter written for 64-bit numbers: the process is killed (by the
# filter, or by a kernel built without 32-bit emulation before it).
# status: runtime_error
# signal: 31
# signal-without-ia32: 11
# stdout-lacks: RETURNED
import ctypes
import mmap
import sys

code = bytes([0xB8, 20, 0, 0, 0,   # mov eax, 20
              0xCD, 0x80,          # int 0x80
              0xC3])               # ret
mem = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
mem.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
func = ctypes.CFUNCTYPE(ctypes.c_int)(addr)
print("calling", flush=True)
r = func()
print("RETURNED", r)
sys.stdout.flush()
