"""Print where the provider description is installed, to copy and edit."""

from importlib.resources import files

print(files("baton_scim_zoom").joinpath("zoom.yaml"))
