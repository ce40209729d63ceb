# Queued real-time signals are counted per host uid, and every run's root
# is the same host uid: a run that queued signals to itself up to the
# supervisor's limit (about 96,000 here) left none for other runs, whose
# sigqueue() and timer_create() then failed with EAGAIN until it ended.
# Each run now has its own, small share (RLIMIT_SIGPENDING 1024).
# status: ok
# stdout-has: QUEUED WITHIN THE RUN'S SHARE
import ctypes
import errno
import os
import signal

libc = ctypes.CDLL(None, use_errno=True)


class SigVal(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, SigVal]
sig = signal.SIGRTMIN
signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
queued = 0
while queued < 200000:
    if libc.sigqueue(os.getpid(), sig, SigVal(0)) != 0:
        print("stopped by", errno.errorcode.get(ctypes.get_errno()))
        break
    queued += 1
print("queued", queued)
if 0 < queued <= 1024:
    print("QUEUED WITHIN THE RUN'S SHARE")
