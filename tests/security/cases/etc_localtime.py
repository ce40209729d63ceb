# /etc/localtime is a link on Debian (to a file of /usr/share/zoneinfo). The
# run sees the same link, which resolves inside the sandbox to the zone
# file, so a run without TZ keeps the host's local zone. (Bound as a host
# path, the link's absolute target was looked up in the staging root,
# missed, and /etc/localtime was silently left out.)
# status: ok
# stdout-has: LOCALTIME TZif
import os
import time

if os.path.islink("/etc/localtime"):
    print("link to", os.readlink("/etc/localtime"))
with open("/etc/localtime", "rb") as f:
    print("LOCALTIME", f.read(4).decode("ascii", "replace"))
print("zone", time.tzname)
