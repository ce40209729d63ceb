# The filter is an allow list: a system call it does not name fails with
# ENOSYS (38), as on a kernel without it, whether it is newer than the
# filter (open_tree_attr, listmount, statmount), old and never needed
# (modify_ldt, SysV shared memory, kernel AIO, sysfs), or unassigned (1000).
# Each is made with arguments a kernel would accept.
# status: ok
# stdout-has: open_tree_attr ENOSYS
# stdout-has: listmount ENOSYS
# stdout-has: statmount ENOSYS
# stdout-has: modify_ldt ENOSYS
# stdout-has: syscall_1000 ENOSYS
# stdout-has: io_setup ENOSYS
# stdout-has: shmget ENOSYS
# stdout-has: sysfs ENOSYS
# stdout-has: memfd_secret ENOSYS
# stdout-has: landlock_create_ruleset ENOSYS
# stdout-has: ENOSYS 10 of 10
import ctypes
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD, OPEN_TREE_CLOEXEC, LSMT_ROOT = -100, 0o2000000, 0xFFFFFFFFFFFFFFFF
STATX_MNT_ID_UNIQUE, STATMOUNT_SB_BASIC = 0x4000, 1
IPC_PRIVATE, LANDLOCK_CREATE_RULESET_VERSION = 0, 1


def mnt_id_req(mnt_id, param):
    return struct.pack("=IIQQQ", 32, 0, mnt_id, param, 0)


def root_mount_id():
    """The unique id of / (statx is allowed); 0 if the kernel has none."""
    buf = ctypes.create_string_buffer(256)
    if libc.syscall(332, AT_FDCWD, b"/", 0, STATX_MNT_ID_UNIQUE, buf) != 0:
        return 0
    return struct.unpack_from("=Q", buf.raw, 144)[0]


ids = (ctypes.c_uint64 * 64)()
page = ctypes.create_string_buffer(4096)
aio_context = ctypes.c_ulong(0)
calls = {
    "open_tree_attr": (467, AT_FDCWD, b"/", OPEN_TREE_CLOEXEC, None, 0),
    "listmount": (458, mnt_id_req(LSMT_ROOT, 0), ids, 64, 0),
    "statmount": (457, mnt_id_req(root_mount_id(), STATMOUNT_SB_BASIC), page, 4096, 0),
    "modify_ldt": (154, 0, page, 16),
    "syscall_1000": (1000,),
    "io_setup": (206, 1, ctypes.byref(aio_context)),
    "shmget": (29, IPC_PRIVATE, 4096, 0o600),
    "sysfs": (139, 3),
    "memfd_secret": (447, 0),
    "landlock_create_ruleset": (444, None, 0, LANDLOCK_CREATE_RULESET_VERSION),
}
refused = 0
for name, args in calls.items():
    r = libc.syscall(*args)
    err = ctypes.get_errno()
    if r == -1 and err == 38:
        refused += 1
        print(name, "ENOSYS")
    else:
        print(name, "returned", r, "errno", err)
print("ENOSYS %d of %d" % (refused, len(calls)))
