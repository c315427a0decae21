"""Test servers: a real scim2-server and a hand-made fake SCIM provider."""
