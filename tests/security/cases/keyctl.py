# Kernel keyrings are not namespaced: keyctl and add_key are refused.
# status: ok
# stdout-has: keyctl BLOCKED
# stdout-has: add_key BLOCKED
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, -3
r = libc.syscall(250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1)
print("keyctl", "BLOCKED" if r == -1 else "ALLOWED")
r = libc.syscall(248, b"user", b"k", b"secret", 6, KEY_SPEC_SESSION_KEYRING)
print("add_key", "BLOCKED" if r == -1 else "ALLOWED")
