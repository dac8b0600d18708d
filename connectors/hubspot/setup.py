"""Leadscore's contact properties in a HubSpot portal: created, completed, checked.

`leadscore setup` makes the property group and every missing property, adds
options a dropdown lacks (a stage the ladder gained, in ladder order), and refuses to use a
property of the same name but another type. HubSpot's Properties API:
developers.hubspot.com/docs/api/crm/properties (type and fieldType pairs;
an update replaces the whole options list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import ApiError, RejectedError
from connectors.hubspot.client import TIMEOUT, HubSpotApi
from connectors.hubspot.records import SYSTEM
from connectors.protocol import FieldSpec, SetupReport

GROUP = "leadscore"
PROPERTY_TYPES = {
    "number": ("number", "number"),
    "enumeration": ("enumeration", "select"),
    "text": ("string", "textarea"),
    "datetime": ("datetime", "date"),
    "boolean": ("bool", "booleancheckbox"),
}
"""Our field kinds as HubSpot's (type, fieldType)."""


def setup_properties(
    api: HubSpotApi,
    fields: Sequence[FieldSpec],
    *,
    dry_run: bool = False,
    object_type: str = "contacts",
) -> SetupReport:
    """Create the leadscore property group and the missing properties of `object_type`
    (contacts; companies for account values), and add the options an existing
    enumeration lacks (a stage the ladder gained, say).

    An existing property of another type than a field needs raises `RejectedError`
    before anything is created, dry run or not: every write into it would fail, or
    store our values in a field that means something else.
    """
    from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

    listed = api.call(
        "properties.list",
        lambda: api.properties.get_all(object_type, _request_timeout=TIMEOUT),
    )
    present = {p.name: p for p in listed.results or []}
    conflicts = type_conflicts(fields, present)
    if conflicts:
        raise RejectedError(SYSTEM, "properties.update", conflicts)
    report = SetupReport(available=list(present))
    groups = api.call(
        "properties.groups.list",
        lambda: api.groups.get_all(object_type, _request_timeout=TIMEOUT),
    )
    if GROUP in {g.name for g in groups.results or []}:
        report.existing.append(f"group {GROUP}")
    else:
        report.created.append(f"group {GROUP}")
        if not dry_run:
            group = PropertyGroupCreate(name=GROUP, label="Lead score", display_order=-1)
            created_or_there(
                api,
                "properties.groups.create",
                lambda: api.groups.create(object_type, group, _request_timeout=TIMEOUT),
            )
    for spec in fields:
        found = present.get(spec.name)
        if found is not None:
            held = [o.value for o in found.options or []]
            missing = spec.kind == "enumeration" and any(v not in held for v in spec.options)
            # the rules' caps, bands and ladder are in the description: keep it true to them
            stale = (found.description or "") != spec.description
            if not missing and not stale:
                report.existing.append(spec.name)
                continue
            if missing:
                report.updated.append(spec.name)
            if stale:
                report.described.append(spec.name)
            if not dry_run:
                options = found.options or [] if missing else None
                described = spec.description if stale else None
                update_property(api, spec, options, described, object_type)
            continue
        report.created.append(spec.name)
        if dry_run:
            continue
        kind, field_type = PROPERTY_TYPES[spec.kind]
        options = [
            {"label": label, "value": value, "displayOrder": i, "hidden": False}
            for i, (value, label) in enumerate(option_labels(spec))
        ]
        create = PropertyCreate(
            name=spec.name,
            label=spec.label,
            type=kind,
            field_type=field_type,
            group_name=GROUP,
            description=spec.description,
            options=options or None,
        )
        created_or_there(
            api,
            "properties.create",
            api.properties.create,
            object_type,
            create,
            _request_timeout=TIMEOUT,
        )
    return report


def option_labels(spec: FieldSpec) -> list[tuple[str, str]]:
    """(value, label) of each option; a checkbox's are HubSpot's own true/false, Yes/No."""
    if spec.kind == "boolean":
        return [("true", "Yes"), ("false", "No")]
    return [(value, value) for value in spec.options]


def update_property(
    api: HubSpotApi,
    spec: FieldSpec,
    held: Sequence[Any] | None,
    description: str | None,
    object_type: str = "contacts",
) -> None:
    """Set a property's `description`, and (`held` given: its options now) insert the
    options of `spec` it lacks, each in its place (`add_options`)."""
    from hubspot.crm.properties import PropertyUpdate

    update = PropertyUpdate(description=description)
    if held is not None:
        update.options = add_options(held, spec.options)
    api.call(
        "properties.update",
        api.properties.update,
        object_type,
        spec.name,
        property_update=update,
        _request_timeout=TIMEOUT,
    )


def add_options(held: Sequence[Any], ladder: Sequence[str]) -> list[Any]:
    """The options of an enumeration property with the values of `ladder` it lacks
    inserted, each in its place.

    HubSpot replaces the whole options list on update, so the options it holds are
    sent again as they are (labels, descriptions, and the order a HubSpot user may
    have given them); every option's displayOrder is then its position.
    """
    from hubspot.crm.properties import OptionInput

    kept = sorted(held, key=lambda o: o.display_order if o.display_order is not None else 0)
    values = in_ladder_order([o.value for o in kept], ladder)
    by_value = {o.value: o for o in kept}
    options = []
    for position, value in enumerate(values):
        found = by_value.get(value)
        options.append(
            OptionInput(
                label=found.label if found else value,
                value=value,
                display_order=position,
                hidden=bool(found.hidden) if found else False,
                description=found.description if found else None,
            )
        )
    return options


def in_ladder_order(held: Sequence[str], ladder: Sequence[str]) -> list[str]:
    """`held` with the values of `ladder` it lacks inserted where the ladder puts them.

    A missing value goes right after the nearest earlier ladder value held, or, when
    none is, right before the first later one; values of `held` not on the ladder
    (a HubSpot user's own) keep their places.
    """
    values = list(held)
    for index, value in enumerate(ladder):
        if value in values:
            continue
        earlier = [v for v in ladder[:index] if v in values]
        later = [v for v in ladder[index + 1 :] if v in values]
        if earlier:
            values.insert(values.index(earlier[-1]) + 1, value)
        elif later:
            values.insert(values.index(later[0]), value)
        else:
            values.append(value)
    return values


def type_conflicts(fields: Sequence[FieldSpec], present: Mapping[str, Any]) -> str:
    """What is wrong with the existing properties of our fields' names that have another
    type than the field needs ("" when nothing is)."""
    problems = []
    for spec in fields:
        found = present.get(spec.name)
        needed = PROPERTY_TYPES[spec.kind][0]
        if found is not None and found.type != needed:
            problems.append(
                f"contact property {spec.name} has type {found.type}; leadscore needs type {needed}"
            )
    if not problems:
        return ""
    hint = "rename or delete it in HubSpot, or use another field prefix"
    return f"{'; '.join(problems)}: {hint}"


def lifecycle_stages(api: HubSpotApi) -> list[str]:
    """The portal's own lifecycle stages, in their order."""
    prop = api.call(
        "properties.get",
        lambda: api.properties.get_by_name("contacts", "lifecyclestage", _request_timeout=TIMEOUT),
    )
    ordered = sorted(prop.options or [], key=lambda o: o.display_order or 0)
    return [o.value for o in ordered]


def created_or_there(api: HubSpotApi, operation: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    """A create that may already have landed: when its reply was lost, the policy's retry
    is answered 409 (the group or property exists, as the first attempt made it), and
    so is a create another process made meanwhile. Either way it is there."""
    try:
        api.call(operation, fn, *args, **kwargs)
    except ApiError as error:
        if error.status != 409:
            raise
