"""Evidence gates: does a digest's evidence satisfy an environment's policy?

Pure functions of the policy (app/delivery/environments.py `Gates`) and the evidence
(app/delivery/evidence.py); a failed gate becomes a PromotionRefused naming the policy,
the reason and the evidence digests. A gate waived for the digest (an unexpired
WaiverGranted) is not checked.
"""

from __future__ import annotations

from collections.abc import Collection

from app.delivery.environments import Gates, ProvenanceGate, ScanGate
from app.delivery.errors import Refusal
from app.delivery.evidence import SEVERITIES, Evidence
from app.pipeline.fields import glob_match

GATES = ("provenance", "scan", "tests")
"""The evidence gates, in the order they are checked."""


def check_gates(gates: Gates, evidence: Evidence, waived: Collection[str] = ()) -> list[Refusal]:
    """Every gate of `gates` that `evidence` fails, except those `waived`, in GATES order."""
    failures: list[Refusal] = []
    if gates.provenance is not None and "provenance" not in waived:
        failures += _provenance(gates.provenance, evidence)
    if gates.scan is not None and "scan" not in waived:
        failures += _scan(gates.scan, evidence)
    if gates.tests and "tests" not in waived:
        failures += _tests(evidence)
    return failures


def _provenance(policy: ProvenanceGate, evidence: Evidence) -> list[Refusal]:
    """Signed by a trusted key, built by shiplog, from an allowed repository and branch."""
    signed = evidence.provenance
    if signed is None:
        reason = (
            f"{evidence.image_digest} has no signed provenance: run {evidence.run_id} has not "
            "finished its steps, was cancelled, or ran before shiplog signed provenance"
        )
        return [Refusal("provenance", reason)]
    if signed.problem is not None:
        return [Refusal("provenance", f"provenance {signed.envelope_digest}: {signed.problem}")]
    repository = signed.repository or ""
    if not any(glob_match(pattern, repository) for pattern in policy.repositories):
        allowed = ", ".join(policy.repositories)
        reason = f"built from repository {repository!r}, which is not one of: {allowed}"
        return [Refusal("provenance", reason)]
    ref = signed.ref or ""
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    if branch is None or not any(glob_match(pattern, branch) for pattern in policy.branches):
        allowed = ", ".join(policy.branches)
        reason = f"built from {ref or 'no ref'}, not from a branch matching: {allowed}"
        return [Refusal("provenance", reason)]
    return []


def _scan(policy: ScanGate, evidence: Evidence) -> list[Refusal]:
    """Scanned, and no finding of the latest scan at or above `fail_on`."""
    scan = evidence.scan
    if scan is None:
        reason = f"image {evidence.image_id or evidence.image_digest} was never scanned"
        return [Refusal("scan", reason)]
    limit = SEVERITIES.index(policy.fail_on)
    severe = [
        (advisory, severity)
        for advisory, severity in scan.findings
        if severity in SEVERITIES and SEVERITIES.index(severity) <= limit
    ]
    if not severe:
        return []
    listed = ", ".join(f"{advisory} ({severity})" for advisory, severity in severe[:5])
    more = f" and {len(severe) - 5} more" if len(severe) > 5 else ""
    reason = (
        f"its latest scan has {len(severe)} finding(s) at or above {policy.fail_on}: {listed}{more}"
    )
    return [Refusal("scan", reason)]


def _tests(evidence: Evidence) -> list[Refusal]:
    """The run that built it reported tests after building it, and none failed."""
    if not evidence.tests:
        reason = f"run {evidence.run_id} reported no tests of the image (JUnit `reports`)"
        return [Refusal("tests", reason)]
    failed = [test for test in evidence.tests if test.failed]
    if failed:
        listed = ", ".join(f"{test.failed} in step {test.step!r}" for test in failed)
        return [Refusal("tests", f"tests failed in run {evidence.run_id}: {listed}")]
    return []
