# /proc/cgroups counts every cgroup of each controller on the host, and
# every run has its own memory and pids cgroup: a run watching the count
# learns how many other runs (other analysts') are in progress, and when
# they start and end. It reads as empty, like the other /proc entries
# that describe the host.
# status: ok
# stdout-has: CGROUPS TABLE ROWS 0
rows = []
try:
    with open("/proc/cgroups") as f:
        rows = [line for line in f if line.strip() and not line.startswith("#")]
except OSError as e:
    print("not readable:", e)
print("rows:", rows[:4])
print("CGROUPS TABLE ROWS %d" % len(rows))
