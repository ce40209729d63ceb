# A double-forked, setsid daemon that would outlive the run: it must be gone
# when the run ends (the suite checks no sandbox process is left).
# status: ok
# stdout-has: parent done
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(1)
        os.close(2)
        time.sleep(120)
    os._exit(0)
time.sleep(0.2)
print("parent done")
