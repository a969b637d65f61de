"""Triage intelligence: pure functions from a mention and the organisation's rules to an
assessment (sentiment, reach, risks, department, priority, crisis signal, needs-reply).

No database, no Slack, no network: the rules come from the organisation file's `triage:`
section, or Brightwave's defaults beside this file.
"""

from escalation.triage.assess import Assessment, MentionFacts, assess
from escalation.triage.checks import BUILTIN_FLAGS, check_rules
from escalation.triage.cluster import TriageContext
from escalation.triage.rules import PRIORITIES, TriageRules

__all__ = [
    "BUILTIN_FLAGS",
    "PRIORITIES",
    "Assessment",
    "MentionFacts",
    "TriageContext",
    "TriageRules",
    "assess",
    "check_rules",
]
