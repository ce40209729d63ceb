# /proc/sys is read-only. The files of the run's own IPC namespace
# (kernel/shmmax, msgmni, shm_rmid_forced, fs/mqueue/*) belong to the
# run's root, so before this a run could write them; they are still
# readable, as Python and glibc read limits there.
# status: ok
# stdout-has: PROC SYS WRITTEN 0
# stdout-has: pid_max readable
import errno

written = []
for path in ["/proc/sys/kernel/shm_rmid_forced", "/proc/sys/kernel/msgmni",
             "/proc/sys/kernel/shmmax", "/proc/sys/fs/mqueue/queues_max"]:
    try:
        with open(path) as f:
            value = f.read()
        with open(path, "w") as f:
            f.write(value)
        written.append(path)
    except OSError as e:
        print(path, errno.errorcode.get(e.errno, e.errno))
with open("/proc/sys/kernel/pid_max") as f:
    if int(f.read()) > 0:
        print("pid_max readable")
print("written:", written)
print("PROC SYS WRITTEN %d" % len(written))
