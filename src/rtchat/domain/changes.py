"""What an edit, delete or reaction does to a message: the one rule every store applies
inside the transaction that stores the change, so that a retry changes nothing twice."""

from __future__ import annotations

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ChangeDraft, ChangeKind, Message


def changes_anything(draft: ChangeDraft, target: Message, reacted: bool) -> bool:
    """Whether `draft` changes `target` (as it stands now); `reacted`: whether the actor
    has given `target` the draft's emoji already. A change that would leave the message
    as it is (the same text again, a second delete, a reaction that is on already) takes
    no place in the log. Raises `message_deleted` for anything but a delete of a
    tombstone."""
    if target.deleted:
        if draft.kind is ChangeKind.DELETE:
            return False
        raise ChatError(ErrorCode.MESSAGE_DELETED)
    match draft.kind:
        case ChangeKind.EDIT:
            return draft.value != target.text
        case ChangeKind.DELETE:
            return True
        case ChangeKind.REACT:
            return not reacted
        case ChangeKind.UNREACT:
            return reacted
