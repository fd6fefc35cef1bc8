"""Session-wide settings for this package's tests.

gloo binds to the address this machine's hostname resolves to. On machines whose hostname
does not resolve, or resolves to an address that is not local (containers, CI), the
rendezvous can wait for the process group's 30-minute timeout inside C++, where pytest's
timeout cannot interrupt it. Every test process group here is on one machine, so pin gloo
to the loopback interface; spawned ranks inherit the environment.
"""
import os

os.environ.setdefault('GLOO_SOCKET_IFNAME', 'lo')
