"""Sigma taxonomy field names → logsigma's native field names, as a pySigma pipeline.

Takes nothing but the optional placeholder values; yields the
:class:`~sigma.processing.pipeline.ProcessingPipeline` every rule (and every
correlation, whose ``group-by``, aliases and ``field`` go through the same
items) passes before conversion. Each mapping is gated by logsource, so
``User`` means ``user`` only in ``process_creation`` rules and ``USER`` means
the sudo target only in ``service: sudo`` rules. Names not listed (auditd keys,
native names used directly) pass through unchanged. This is the only module
that spells Sigma field names; the native names are the team contract in
``grammars/README.md``.
"""

from __future__ import annotations

from typing import Any, Mapping

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    ValueListPlaceholderTransformation,
)

# (logsource attributes the rule must be contained in, Sigma name → native name)
FIELD_MAPS: tuple[tuple[Mapping[str, str], Mapping[str, str]], ...] = (
    ({"category": "webserver"}, {
        "c-ip": "client_ip", "cs-username": "user", "cs-method": "method",
        "cs-uri-query": "uri", "cs-uri-stem": "path", "cs-version": "protocol",
        "sc-status": "status", "sc-bytes": "bytes", "cs-referer": "referer",
        "cs-user-agent": "user_agent", "cs-host": "vhost",
    }),
    ({"category": "process_creation"}, {
        "Image": "image", "CommandLine": "command_line", "User": "user",
        "CurrentDirectory": "cwd", "ParentImage": "parent_image", "ParentUser": "parent_user",
    }),
    ({"product": "linux", "service": "sudo"}, {"USER": "target_user"}),
)


def field_pipeline(placeholders: Mapping[str, Any] | None = None) -> ProcessingPipeline:
    """The pipeline that renames fields per logsource and, given values, resolves ``|expand``.

    Without ``placeholders`` no placeholder item is added, so a rule using one
    reaches the backend unresolved and is skipped with that reason.
    """
    items = [
        ProcessingItem(
            identifier=f"logsigma_fields_{'_'.join(gate.values())}",
            transformation=FieldMappingTransformation(dict(mapping)),
            rule_conditions=[LogsourceCondition(**gate)],
        )
        for gate, mapping in FIELD_MAPS
    ]
    if placeholders is not None:
        items.insert(0, ProcessingItem(identifier="logsigma_placeholders",
                                       transformation=ValueListPlaceholderTransformation()))
    return ProcessingPipeline(name="logsigma native fields", priority=20, items=items,
                              vars=dict(placeholders or {}))
