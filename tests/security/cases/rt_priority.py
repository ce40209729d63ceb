# Real-time scheduling and a raised priority: the limits are zero inside
# the run whatever the supervisor inherited (a service unit may grant
# LimitRTPRIO or LimitNICE), so a run can neither take SCHED_FIFO nor
# lower its nice value.
# status: ok
# stdout-has: NO REAL-TIME, NO RAISED PRIORITY
import os
import resource

assert resource.getrlimit(resource.RLIMIT_RTPRIO) == (0, 0), resource.getrlimit(resource.RLIMIT_RTPRIO)
assert resource.getrlimit(resource.RLIMIT_NICE) == (0, 0), resource.getrlimit(resource.RLIMIT_NICE)
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    raise SystemExit("SCHED_FIFO was granted")
except PermissionError:
    pass
try:
    os.setpriority(os.PRIO_PROCESS, 0, -5)
    raise SystemExit("a negative nice value was granted")
except PermissionError:
    pass
print("NO REAL-TIME, NO RAISED PRIORITY")
