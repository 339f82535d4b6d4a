"""The ports: what the use cases need from the outside world, one module per concern.

Protocols the adapters implement, and the plain data that crosses them. Import from the module that
holds a name, so that a use case's imports say which ports it touches.
"""
