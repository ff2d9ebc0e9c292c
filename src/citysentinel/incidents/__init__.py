"""Incidents: rules, the engine that folds events into incidents, lifecycle and silences."""

from citysentinel.incidents.engine import EngineResult, IncidentEngine, LifecycleError
from citysentinel.incidents.model import (
    Category,
    ChangeAction,
    ChangeType,
    Incident,
    IncidentChange,
    IncidentStatus,
)
from citysentinel.incidents.rules import RuleConfig
from citysentinel.incidents.silences import Silence, SilenceMatchers

__all__ = [
    "Category",
    "ChangeAction",
    "ChangeType",
    "EngineResult",
    "Incident",
    "IncidentChange",
    "IncidentEngine",
    "IncidentStatus",
    "LifecycleError",
    "RuleConfig",
    "Silence",
    "SilenceMatchers",
]
