"""The evidence gates as rules, on evidence made up here: what each refuses and says why.

The integration tests (test_gates.py) build real images; these cover the cases a real
run cannot easily leave behind, such as a pushed digest whose provenance was never
signed, without a Docker engine.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from app.delivery.environments import Gates, ProvenanceGate, ScanGate
from app.delivery.evidence import Evidence, LatestScan, SignedProvenance, TestResult
from app.delivery.gates import check_gates

DIGEST = "sha256:" + "3f1c" * 16
SIGNED = SignedProvenance(
    envelope_digest="sha256:" + "e" * 64,
    key_id="k1",
    trusted=True,
    problem=None,
    repository="https://git.example/acme/web.git",
    ref="refs/heads/main",
)
GOOD = Evidence(
    image_digest=DIGEST,
    image_id="sha256:" + "1" * 64,
    image=f"127.0.0.1:5000/web@{DIGEST}",
    run_id="run-1",
    repository="https://git.example/acme/web.git",
    commit="c" * 40,
    ref="refs/heads/main",
    commit_time=None,
    provenance=SIGNED,
    scan=LatestScan("a" * 64, "sha256:" + "b" * 64, (("CVE-1", "low"),), datetime.now(UTC)),
    tests=(TestResult("test", 12, 0, "d" * 64),),
)
STRICT = Gates(
    provenance=ProvenanceGate(repositories=("https://git.example/acme/**",), branches=("main",)),
    scan=ScanGate(fail_on="high"),
)


def reasons(evidence: Evidence, gates: Gates = STRICT, waived: tuple[str, ...] = ()) -> list[str]:
    """`policy: reason` of each refusal."""
    return [f"{r.policy}: {r.reason}" for r in check_gates(gates, evidence, waived)]


def test_evidence_that_holds_passes_every_gate() -> None:
    assert reasons(GOOD) == []


def test_an_unsigned_digest_is_refused_by_the_provenance_gate() -> None:
    (reason,) = reasons(replace(GOOD, provenance=None))
    assert reason.startswith(f"provenance: {DIGEST} has no signed provenance")


def test_provenance_from_another_repository_or_branch_or_with_a_bad_signature_is_refused() -> None:
    elsewhere = replace(SIGNED, repository="https://git.example/other/web.git")
    assert reasons(replace(GOOD, provenance=elsewhere)) == [
        "provenance: built from repository 'https://git.example/other/web.git', which is not "
        "one of: https://git.example/acme/**"
    ]
    feature = replace(SIGNED, ref="refs/heads/feature/x")
    assert reasons(replace(GOOD, provenance=feature)) == [
        "provenance: built from refs/heads/feature/x, not from a branch matching: main"
    ]
    broken = replace(SIGNED, problem="the signature does not verify")
    assert reasons(replace(GOOD, provenance=broken)) == [
        f"provenance: provenance {SIGNED.envelope_digest}: the signature does not verify"
    ]


def test_a_waived_or_switched_off_gate_is_not_checked() -> None:
    unsigned_untested = replace(GOOD, provenance=None, tests=())
    assert [r.split(":")[0] for r in reasons(unsigned_untested)] == ["provenance", "tests"]
    assert [r.split(":")[0] for r in reasons(unsigned_untested, waived=("provenance",))] == [
        "tests"
    ]
    assert reasons(unsigned_untested, Gates(provenance=None, scan=None, tests=False)) == []
