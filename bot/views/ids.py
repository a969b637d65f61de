"""Action and callback ids. Messages stay in Slack for years and their buttons must keep
working after upgrades: never rename a value, only add."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    CLAIM = "case-claim"
    RELEASE = "case-release"
    TAKE_OVER = "case-take-over"
    ESCALATE = "case-escalate"
    ESCALATE_SUGGESTED = "case-escalate-suggested"
    RESOLVE = "case-resolve"
    REOPEN = "case-reopen"
    WAIT_CUSTOMER = "case-wait-customer"
    CUSTOMER_REPLIED = "case-customer-replied"
    ACKNOWLEDGE = "escalation-acknowledge"
    ANSWER = "escalation-answer"
    SEND_BACK = "escalation-send-back"
    REASSIGN = "escalation-reassign"
    SNOOZE = "nag-snooze"
    SUGGEST_REPLY = "reply-suggest"
    REPLY_REGENERATE = "reply-regenerate"
    REPLY_USE = "reply-use"
    REPLY_EDIT_DRAFT = "reply-edit-draft"
    REPLY_EDIT = "reply-edit"
    REPLY_SECOND = "reply-approve-second"
    REPLY_POST = "reply-post"
    REPLY_MARK = "reply-mark"
    CRISIS_ARCHIVE = "crisis-archive"
    SURGE_DECLARE = "surge-declare"  # value: the surge alert's id


class CallbackId(StrEnum):
    ESCALATE = "case-escalate-modal"
    RESOLVE = "case-resolve-modal"
    ANSWER = "escalation-answer-modal"
    SEND_BACK = "escalation-send-back-modal"
    MESSAGE_SHORTCUT = "message-escalate"
    MESSAGE_ESCALATE = "message-escalate-modal"
    REPLY_EDIT = "reply-edit-modal"
    REPLY_MARK = "reply-mark-modal"
    CRISIS_DECLARE = "crisis-declare-modal"
    CRISIS_UPDATE = "crisis-update-modal"
    CRISIS_CLOSE = "crisis-close-modal"
