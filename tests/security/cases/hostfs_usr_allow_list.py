# The sandbox's root holds only the allow-listed parts of the host: no
# /usr/local (its etc/ may hold ledgerbox.conf), no other programs, no
# headers, docs or configuration of the host, and no /etc/ledgerbox.
# status: ok
# stdout-has: PRESENT []
import os

absent = ["/usr/local", "/usr/local/etc", "/usr/local/share", "/usr/sbin", "/usr/include",
          "/usr/share/doc", "/usr/lib/systemd", "/usr/lib/ledgerbox", "/usr/libexec",
          "/usr/games", "/usr/src", "/usr/etc", "/etc/ledgerbox", "/etc/shadow",
          "/etc/ssh", "/etc/systemd", "/var", "/home", "/root", "/srv", "/opt"]
print("PRESENT", [p for p in absent if os.path.lexists(p)])
print("/usr:", sorted(os.listdir("/usr")))
