"""Print where the provider descriptions are installed, to copy and edit."""

from importlib.resources import files

for name in ("slack.yaml", "slack-v1.yaml"):
    print(files("baton_scim_slack").joinpath(name))
