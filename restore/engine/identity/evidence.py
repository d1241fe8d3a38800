"""Is a destination object the same object as a backup item? Decided on evidence, never on a URL.

lookervault records no source instance, and a URL proves nothing anyway (another port, a proxy, a
renamed host). What a rename cannot forge is an object's ID together with fields Looker never lets
anyone change: when it was created (content, schedules, a user's credentials), a folder's
content-metadata ID, a LookML model's name. `evidence()` extracts them from a backup item or a
destination object; `verdict()` compares the two.

Groups, roles, permission sets and model sets carry no such field: for them the session's
instance-level decision (`InstanceCheck`, a sample of IDs checked at the start) stands in.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from restore.engine.core.content_types import ContentType
from restore.engine.core.diffs import instant

CT = ContentType
Body = dict[str, Any]

# The immutable fields per type, as `fields=` for a light GET.
EVIDENCE_FIELDS: dict[ContentType, str] = {
    CT.USER: "id,credentials_email,credentials_api3",
    CT.FOLDER: "id,content_metadata_id,created_at",
    CT.LOOK: "id,created_at",
    CT.DASHBOARD: "id,created_at",
    CT.BOARD: "id,created_at",
    CT.SCHEDULED_PLAN: "id,created_at",
    CT.LOOKML_MODEL: "name",
}
WITHOUT_EVIDENCE = frozenset({CT.GROUP, CT.ROLE, CT.PERMISSION_SET, CT.MODEL_SET})


def timestamp(value: Any) -> str | None:
    """A timestamp as UTC ISO with milliseconds (`diffs.instant`): equal moments compare equal."""
    return instant(value)


def _user_evidence(obj: Body) -> dict[str, str]:
    out = {}
    email = obj.get("credentials_email") or {}
    if isinstance(email, dict) and timestamp(email.get("created_at")):
        out["credentials_email.created_at"] = timestamp(email.get("created_at"))
    for cred in obj.get("credentials_api3") or []:
        if isinstance(cred, dict) and cred.get("client_id") and timestamp(cred.get("created_at")):
            out[f"credentials_api3.{cred['client_id']}"] = timestamp(cred.get("created_at"))
    return out


def evidence(ct: ContentType, obj: Body | None) -> dict[str, str]:
    """The immutable fields of an object (backup item or destination answer); {} when none."""
    if not obj:
        return {}
    if ct == CT.USER:
        return _user_evidence(obj)
    if ct == CT.LOOKML_MODEL:
        return {"name": str(obj["name"])} if obj.get("name") else {}
    if ct in WITHOUT_EVIDENCE:
        return {}
    out = {}
    if timestamp(obj.get("created_at")):
        out["created_at"] = timestamp(obj.get("created_at"))
    if ct == CT.FOLDER and obj.get("content_metadata_id") not in (None, ""):
        out["content_metadata_id"] = str(obj["content_metadata_id"])
    return out


def verdict(ours: dict[str, str], theirs: dict[str, str]) -> bool | None:
    """Compare two `evidence()` results. True: the same object; False: proven another one;
    None: nothing to decide on.

    Only fields both sides hold count (a user without email credentials in the destination proves
    nothing either way); one differing field is enough to say "another object"."""
    shared = set(ours) & set(theirs)
    if not shared:
        return None
    return all(ours[k] == theirs[k] for k in shared)


def same_object(ct: ContentType, backup: Body, destination: Body | None) -> bool | None:
    """`verdict` of a backup item against a destination object (None when it does not exist)."""
    if destination is None:
        return False
    return verdict(evidence(ct, backup), evidence(ct, destination))


# -- the instance-level decision ------------------------------------------------------------------
SAMPLE_SIZE = 60
SAME_RATIO = (
    0.8  # of the sampled IDs that exist in the destination, how many must hold the same object
)


@dataclass
class InstanceCheck:
    """Is the destination the instance the backup came from? With the evidence, for the plan."""

    sampled: int = 0
    same: int = 0
    other: int = 0  # the ID exists but holds another object
    missing: int = 0  # the ID does not exist (deleted, or never there)
    undecided: int = 0  # exists, but no immutable field to compare
    decided_by: str = "sample"  # sample | user | default
    same_instance: bool = False
    examples: list[str] = field(default_factory=list)  # a few "other object" findings
    same_types: list[str] = field(default_factory=list)  # types with an object under its own ID

    @property
    def summary(self) -> str:
        verdict_text = (
            "the instance this backup came from"
            if self.same_instance
            else ("another instance (a migration)")
        )
        if self.decided_by == "user":
            return f"Treated as {verdict_text}: chosen by the user" + (
                f" (the sample said: {self.evidence_text})" if self.sampled else ""
            )
        if not self.sampled:
            return f"Treated as {verdict_text}: the backup holds nothing to compare"
        return f"Treated as {verdict_text}: {self.evidence_text}"

    @property
    def evidence_text(self) -> str:
        parts = [f"{self.same} of {self.sampled} sampled IDs hold the same objects"]
        if self.other:
            parts.append(f"{self.other} hold other objects")
        if self.missing:
            parts.append(f"{self.missing} do not exist")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}

    def decide(self) -> None:
        """Same instance when most sampled IDs that exist hold the backup's objects and more of
        them exist than not: a fresh instance shares a few fixed objects (the API user, system
        folders) with any other, a wrecked one still holds most of its content."""
        seen = self.same + self.other
        self.same_instance = (
            seen > 0 and self.same >= SAME_RATIO * seen and self.same > self.missing
        )


def sample_items(reader: Any, size: int = SAMPLE_SIZE) -> list[tuple[ContentType, str, Body]]:
    """Up to `size` backup items with immutable fields, spread over the types that have them."""
    from restore.engine.backup.reader import Selection

    types = [ct for ct in EVIDENCE_FIELDS if ct != CT.LOOKML_MODEL]
    per_type = max(1, size // len(types))
    out: list[tuple[ContentType, str, Body]] = []
    for ct in types:
        taken = 0
        for item in reader.iter_items(Selection(content_types=[ct], include_deleted=True)):
            if item.error is not None:
                continue
            content = item.content
            if _system_folder(content):
                continue
            if evidence(ct, content) and content.get("id") not in (None, ""):
                out.append((ct, str(content["id"]), content))
                taken += 1
            if taken >= per_type:
                break
    return out[:size]


def _system_folder(content: Body) -> bool:
    flags = ("is_shared_root", "is_users_root", "is_embed_shared_root", "is_embed_users_root")
    return any(content.get(f) for f in flags)


def check_instance(
    fetch: Callable[[ContentType, str, str], Body | None],
    samples: list[tuple[ContentType, str, Body]],
    *,
    threads: int = 8,
) -> InstanceCheck:
    """GET each sampled ID (light, `fields=` the evidence) and count what it holds."""
    check = InstanceCheck(sampled=len(samples))

    def one(sample: tuple[ContentType, str, Body]) -> tuple[ContentType, str, bool | None, bool]:
        ct, sid, content = sample
        found = fetch(ct, sid, EVIDENCE_FIELDS[ct])
        return ct, sid, same_object(ct, content, found), found is not None

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="identity") as pool:
        results = list(pool.map(one, samples))
    for ct, sid, same, found in results:
        if not found:
            check.missing += 1
        elif same is None:
            check.undecided += 1
        elif same:
            check.same += 1
            if ct.slug not in check.same_types:
                check.same_types.append(ct.slug)
        else:
            check.other += 1
            if len(check.examples) < 5:
                check.examples.append(f"{ct.slug} {sid} holds another object")
    check.decide()
    return check
