"""Time the c1z writer on a large directory: 100k users and 100k grants.

Run: PYTHONPATH=core/src python benchmarks/bench_c1z.py [--users N]

Messages are built on demand, as in a real sync, twice: once only to be
serialized (the baseline) and once to be added to a writer. The difference
is the writer's own cost per row; finish() and the file size come after.
"""

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from baton_scim.c1z import C1zReader, C1zWriter
from baton_scim.c1z import messages as m

GROUPS = 100


def profile(**values: str) -> m.Struct:
    struct = m.Struct()
    struct.update(values)
    return struct


def user(number: int) -> m.Resource:
    ident = f"user-{number:06d}"
    trait = m.UserTrait(
        emails=[m.UserTrait.Email(address=f"{ident}@example.com", is_primary=True)],
        status=m.UserTrait.Status(status=m.UserTrait.Status.STATUS_ENABLED),
        profile=profile(user_id=ident, login=ident, first_name="Ada", last_name=ident),
        account_type=m.UserTrait.ACCOUNT_TYPE_HUMAN,
    )
    annotation = m.Any()
    annotation.Pack(trait)
    resource_id = m.ResourceId(resource_type="user", resource=ident)
    return m.Resource(id=resource_id, display_name=ident, annotations=[annotation])


def group(number: int) -> m.Resource:
    annotation = m.Any()
    annotation.Pack(m.GroupTrait(profile=profile(group_id=f"g{number}")))
    resource_id = m.ResourceId(resource_type="group", resource=f"g{number}")
    return m.Resource(
        id=resource_id, display_name=f"G{number}", annotations=[annotation]
    )


def grant(on: m.Resource, principal: m.Resource) -> m.Grant:
    entitlement_id = f"group:{on.id.resource}:member"
    return m.Grant(
        entitlement=m.Entitlement(resource=on, id=entitlement_id),
        principal=m.Resource(id=principal.id),
        id=f"{entitlement_id}:user:{principal.id.resource}",
    )


def objects(users: int) -> Iterator[tuple[str, Any]]:
    """Yield (kind, message) pairs, built on demand as a real sync does."""
    yield "resource_type", m.ResourceType(id="user", traits=[1])
    yield "resource_type", m.ResourceType(id="group", traits=[2])
    groups = [group(number) for number in range(GROUPS)]
    for resource in groups:
        yield "resource", resource
    for number in range(users):
        person = user(number)
        yield "resource", person
        yield "grant", grant(groups[number % GROUPS], person)


def build_and_serialize(users: int) -> tuple[float, int]:
    """The cost of making the messages without any writer: the baseline."""
    started = time.perf_counter()
    rows = 0
    for _, message in objects(users):
        message.SerializeToString()
        rows += 1
    return time.perf_counter() - started, rows


def write(path: Path, users: int) -> tuple[float, float]:
    """Return the seconds spent building and adding, and those of finish()."""
    started = time.perf_counter()
    with C1zWriter(path) as writer:
        add: dict[str, Callable[[Any], None]] = {
            "resource_type": writer.add_resource_type,
            "resource": writer.add_resource,
            "grant": writer.add_grant,
        }
        for kind, message in objects(users):
            add[kind](message)
        added = time.perf_counter()
        writer.finish()
    return added - started, time.perf_counter() - added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    users = parser.parse_args().users

    baseline, rows = build_and_serialize(users)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench.c1z"
        adding, finishing = write(path, users)
        size = path.stat().st_size
        with C1zReader(path) as reader:
            stats = reader.stats()

    total = adding + finishing
    overhead = (adding - baseline) / rows * 1e6
    print(f"rows               {rows:>10,}  {stats}")
    print(f"build + serialize  {baseline:>10.2f} s  (baseline, no writer)")
    print(f"build + add_*      {adding:>10.2f} s")
    print(
        f"writer overhead    {overhead:>10.2f} µs/row beyond building and serializing"
    )
    print(f"finish()           {finishing:>10.2f} s")
    print(
        f"writer total       {total - baseline:>10.2f} s  "
        f"{rows / (total - baseline):>10,.0f} rows/s"
    )
    print(f"file size          {size:>10,} bytes")


if __name__ == "__main__":
    main()
