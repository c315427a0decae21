"""Records to Baton objects: resource types, resources, entitlements, grants.

The shapes follow the Go connector exactly, so that a team switching from
it sees no change: user and group IDs are the SCIM ``id``, role IDs are the
snake_case of the role name, every group and role has one ``member``
entitlement, and grant IDs are ``<entitlement>:<principal type>:<id>``.
"""

from __future__ import annotations

from typing import Any

from .c1z import messages as pb
from .records import GroupRecord, RoleRef, UserRecord

TRAIT_USER, TRAIT_GROUP, TRAIT_ROLE = 1, 2, 3
STATUS_ENABLED, STATUS_DISABLED = 1, 2
ACCOUNT_TYPE_HUMAN = 1
PURPOSE_ASSIGNMENT = 1
MEMBER = "member"

USER_TYPE = pb.ResourceType(id="user", display_name="User", traits=[TRAIT_USER])
GROUP_TYPE = pb.ResourceType(id="group", display_name="Group", traits=[TRAIT_GROUP])
ROLE_TYPE = pb.ResourceType(id="role", display_name="Role", traits=[TRAIT_ROLE])
RESOURCE_TYPES = (USER_TYPE, GROUP_TYPE, ROLE_TYPE)


def _packed(trait: Any) -> Any:
    wrapper = pb.Any()
    wrapper.Pack(trait)
    return wrapper


def _profile(values: dict[str, str]) -> Any:
    profile = pb.Struct()
    profile.update(values)
    return profile


def user_resource(user: UserRecord) -> Any:
    """The user resource: trait with email, status, login and profile."""
    login = user.email or user.user_name
    trait = pb.UserTrait(
        status=pb.UserTrait.Status(
            status=STATUS_ENABLED if user.active else STATUS_DISABLED
        ),
        profile=_profile(
            {
                "user_id": user.id,
                "login": login,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "username": user.user_name,
            }
        ),
        account_type=ACCOUNT_TYPE_HUMAN,
    )
    if user.email:
        trait.emails.add(address=user.email, is_primary=True)
    return pb.Resource(
        id=pb.ResourceId(resource_type="user", resource=user.id),
        display_name=user.display_name,
        annotations=[_packed(trait)],
    )


def group_resource(group_id: str, name: str) -> Any:
    """The group resource, with its ID and name in the profile."""
    trait = pb.GroupTrait(profile=_profile({"group_id": group_id, "group_name": name}))
    return pb.Resource(
        id=pb.ResourceId(resource_type="group", resource=group_id),
        display_name=name,
        annotations=[_packed(trait)],
    )


def group_resource_of(group: GroupRecord) -> Any:
    return group_resource(group.id, group.display_name)


def role_resource(role: RoleRef) -> Any:
    """The role resource: ID from the name, name shown as it is."""
    trait = pb.RoleTrait(profile=_profile({"role_id": role.id, "role_name": role.name}))
    return pb.Resource(
        id=pb.ResourceId(resource_type="role", resource=role.id),
        display_name=role.name,
        annotations=[_packed(trait)],
    )


def member_entitlement(resource: Any) -> Any:
    """The ``member`` entitlement of a group or role resource."""
    kind = resource.id.resource_type
    name = resource.display_name
    return pb.Entitlement(
        resource=resource,
        id=entitlement_id(kind, resource.id.resource),
        display_name=f"{name} {kind} member",
        description=f"Member of {name} {kind}",
        grantable_to=[USER_TYPE],
        purpose=PURPOSE_ASSIGNMENT,
        slug=MEMBER,
    )


def entitlement_id(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}:{resource_id}:{MEMBER}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    return f"{entitlement}:{principal_type}:{principal_id}"


def grant(resource: Any, principal: Any) -> Any:
    """A grant of a resource's ``member`` entitlement to a principal resource.

    Role grants carry the full user resource as principal and group grants
    only its ID, as the Go connector does (see ``user_principal``).
    """
    ent_id = entitlement_id(resource.id.resource_type, resource.id.resource)
    return pb.Grant(
        entitlement=pb.Entitlement(resource=resource, id=ent_id),
        principal=principal,
        id=grant_id(ent_id, principal.id.resource_type, principal.id.resource),
    )


def user_principal(user: str) -> Any:
    """A principal that names a user by ID only."""
    return pb.Resource(id=pb.ResourceId(resource_type="user", resource=user))
