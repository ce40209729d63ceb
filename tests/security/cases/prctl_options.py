# prctl has no argument filter: every option that reaches beyond the
# calling process needs a capability the run does not have in the host's
# user namespace, so the kernel refuses it (memory map and executable
# link rewriting, ambient capabilities, securebits, keeping capabilities,
# the bounding set, I/O flusher). Options on the process itself (its name,
# its parent-death signal, no_new_privs, subreaper) work as Python's
# libraries expect.
# status: ok
# stdout-has: PRCTL REFUSED 7 of 7
# stdout-has: PRCTL SELF OK 4 of 4
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

refused_needed = {
    "PR_SET_MM start_code": (35, 1, 0x400000, 0, 0),
    "PR_SET_MM exe_file": (35, 13, 0, 0, 0),
    "PR_CAP_AMBIENT raise sys_admin": (47, 2, 21, 0, 0),
    "PR_SET_SECUREBITS": (28, 0, 0, 0, 0),
    "PR_SET_KEEPCAPS": (8, 1, 0, 0, 0),
    "PR_CAPBSET_DROP": (24, 1, 0, 0, 0),
    "PR_SET_IO_FLUSHER": (57, 1, 0, 0, 0),
}
refused = 0
for name, args in refused_needed.items():
    r = libc.prctl(*args)
    e = ctypes.get_errno()
    print(name, r, errno.errorcode.get(e, e) if r < 0 else "ALLOWED")
    if r < 0 and e == errno.EPERM:
        refused += 1
self_options = {
    "PR_SET_NAME": (15, ctypes.cast(ctypes.c_char_p(b"analysis"), ctypes.c_void_p).value, 0, 0, 0),
    "PR_SET_PDEATHSIG": (1, 9, 0, 0, 0),
    "PR_SET_NO_NEW_PRIVS": (38, 1, 0, 0, 0),
    "PR_SET_CHILD_SUBREAPER": (36, 1, 0, 0, 0),
}
self_ok = 0
for name, args in self_options.items():
    r = libc.prctl(*args)
    print(name, r, errno.errorcode.get(ctypes.get_errno(), "") if r < 0 else "ok")
    self_ok += r == 0
print("PRCTL REFUSED %d of %d" % (refused, len(refused_needed)))
print("PRCTL SELF OK %d of %d" % (self_ok, len(self_options)))
