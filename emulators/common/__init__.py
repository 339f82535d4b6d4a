"""What every provider emulator shares: serving over HTTP, the faults it can inject, its record of what
it received and posted, the generic part of its control API and of its command.

A provider's package (``emulators.twilio``, ``emulators.meta``) keeps what is its provider's own: the
wire formats, the checks and error bodies, the signed callbacks, and the records only it keeps.
"""
