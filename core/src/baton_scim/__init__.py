"""baton-scim: sync any SCIM 2.0 service into a Baton c1z file."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("baton-scim")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
