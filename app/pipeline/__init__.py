"""Pipelines: `.shiplog.yml` read, checked and modelled; the step graph; the JSON Schema."""

from app.pipeline.dag import ancestors, find_cycles, ready
from app.pipeline.errors import PipelineError, Problem
from app.pipeline.fields import DEFAULT_TIMEOUT, EVENTS, RESERVED_KINDS, STATUSES
from app.pipeline.loader import DEFAULT_SOURCE, load_pipeline, parse_pipeline
from app.pipeline.model import Pipeline, dependencies
from app.pipeline.parts import WORKSPACE, FromSecret, Service, Trigger, When
from app.pipeline.sandbox import PRIVILEGES, Resources, SandboxOptions, memory_bytes
from app.pipeline.schema import SCHEMA_ID, pipeline_digest, pipeline_schema
from app.pipeline.steps import (
    BuildSpec,
    BuildStep,
    CommandStep,
    NotifySpec,
    NotifyStep,
    PushSpec,
    PushStep,
    ScanSpec,
    ScanStep,
    Step,
)

__all__ = [
    "DEFAULT_SOURCE",
    "DEFAULT_TIMEOUT",
    "EVENTS",
    "PRIVILEGES",
    "RESERVED_KINDS",
    "SCHEMA_ID",
    "STATUSES",
    "WORKSPACE",
    "BuildSpec",
    "BuildStep",
    "CommandStep",
    "FromSecret",
    "NotifySpec",
    "NotifyStep",
    "Pipeline",
    "PipelineError",
    "Problem",
    "PushSpec",
    "PushStep",
    "Resources",
    "SandboxOptions",
    "ScanSpec",
    "ScanStep",
    "Service",
    "Step",
    "Trigger",
    "When",
    "ancestors",
    "dependencies",
    "find_cycles",
    "load_pipeline",
    "memory_bytes",
    "parse_pipeline",
    "pipeline_digest",
    "pipeline_schema",
    "ready",
]
