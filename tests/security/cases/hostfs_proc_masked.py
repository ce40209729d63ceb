# The /proc entries that describe the host (its kernel's command line and
# build, its boot, its locks, keys, modules, symbols and devices) read as
# empty or are missing: a run learns nothing of the host from them.
# status: ok
# stdout-has: HOST PROC ENTRIES READ 0
import os

files = ["/proc/cmdline", "/proc/config.gz", "/proc/locks", "/proc/version",
         "/proc/sys/kernel/random/boot_id", "/proc/kcore", "/proc/keys",
         "/proc/key-users", "/proc/timer_list", "/proc/sched_debug", "/proc/kallsyms",
         "/proc/modules", "/proc/partitions", "/proc/diskstats", "/proc/iomem",
         "/proc/ioports", "/proc/interrupts", "/proc/devices", "/proc/swaps",
         "/proc/slabinfo", "/proc/vmallocinfo", "/proc/zoneinfo"]
dirs = ["/proc/acpi", "/proc/scsi", "/proc/bus", "/proc/irq", "/proc/fs", "/proc/driver",
        "/proc/tty", "/proc/sysvipc"]
read = []
for p in files:
    try:
        with open(p, "rb") as f:
            if f.read(64):
                read.append(p)
    except OSError:
        pass
for d in dirs:
    try:
        if os.listdir(d):
            read.append(d)
    except OSError:
        pass
# What must stay readable for Python and its libraries still is.
for p in ["/proc/self/status", "/proc/meminfo", "/proc/cpuinfo", "/proc/stat"]:
    with open(p) as f:
        assert f.read(16), p
print("read:", read)
print("HOST PROC ENTRIES READ %d" % len(read))
