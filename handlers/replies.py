"""Public replies from Slack: suggest drafts, use or edit one, a second approval, post or mark.

Drafting and posting talk to the outside world and can be slow, so they run after the ack and
outside any transaction; each click still takes effect once (its key is recorded first).
"""

from __future__ import annotations

from slack_bolt import App

from bot.replies import PostRefused, PostUncertain, ReplyDesk
from bot.services import Services
from bot.views.ids import ActionId, CallbackId
from bot.views.replies import mark_replied_modal, reply_edit_modal
from escalation import replies
from escalation.errors import InvalidTransition
from escalation.models import Case, Reply, Suggestion
from escalation.store import first_time
from handlers.actions import apply_click, apply_submission
from handlers.payloads import MAX_ID, BadPayload, Click, case_ref, field, metadata, number


def register(app: App) -> None:
    app.action(ActionId.SUGGEST_REPLY)(suggest)
    app.action(ActionId.REPLY_REGENERATE)(suggest)
    app.action(ActionId.REPLY_USE)(use)
    app.action(ActionId.REPLY_EDIT_DRAFT)(open_edit_draft)
    app.action(ActionId.REPLY_EDIT)(open_edit_reply)
    app.view(CallbackId.REPLY_EDIT)(submit_edit)
    app.action(ActionId.REPLY_SECOND)(second_approve)
    app.action(ActionId.REPLY_POST)(post)
    app.action(ActionId.REPLY_MARK)(open_mark)
    app.view(CallbackId.REPLY_MARK)(submit_mark)


def refs(value: str, count: int) -> list[int]:
    """'12:3' -> [12, 3]: the case, then the suggestion (and draft) or reply a button acts on."""
    found = [number(p) for p in value.split(":")]
    if len(found) != count or None in found:
        raise BadPayload(f"not a reply reference: {value[:40]!r}")
    return found


def desk(services: Services) -> ReplyDesk:
    if services.replies is None:
        raise InvalidTransition("Replies are not set up on this server.")
    return services.replies


def suggest(ack, body, services, respond):
    """Drafts in the background: the clicker hears at once, the drafts land in the thread."""
    ack()
    click, now = Click.of(body), services.now()
    case_id, actor = case_ref(click.value), services.actor(click.user)
    with services.read() as db:
        case = replies.check_may_reply(db=db, case_id=case_id, actor=actor, org=services.org)
        mention, department = case.mention, replies.department_of(case)
    with services.unit() as db:
        if not first_time(db, key=click.key, now=now):
            return  # a retry of a click already drafting
    respond(text="Drafting replies; they appear in the case's thread.", response_type="ephemeral")
    drafted = desk(services).suggest(mention, actor, department)
    origins = [(d, "llm" if drafted.origin == "llm" else "template") for d in drafted.drafts]
    origins += [(d, "template") for d in drafted.alternatives]
    with services.unit() as db:
        replies.record_suggestion(
            db=db,
            case_id=case_id,
            drafts=origins,
            origin=drafted.origin,
            prompt_version=drafted.prompt_version,
            model=drafted.model,
            llm_calls=drafted.llm_calls,
            note=drafted.note,
            actor=actor,
            org=services.org,
            now=services.now(),
        )


def approved(reply: Reply) -> str:
    if reply.second_needed:
        return f"Approved. A {reply.second_needed} reply needs a second approver before it goes."
    return "Approved: post it, or mark it replied, from its card in the thread."


def use(ack, body, services, respond):
    ack()

    def change(db, click, actor):
        case_id, suggestion_id, index = refs(click.value, 3)
        return replies.approve(
            db=db,
            case_id=case_id,
            suggestion_id=suggestion_id,
            index=index,
            actor=actor,
            org=services.org,
            rules=desk(services).guide.rules,
            now=services.now(),
        )

    apply_click(body, services, respond, change, approved)


def open_edit_draft(ack, body, client, services):
    ack()
    click = Click.of(body)
    case_id, suggestion_id, index = refs(click.value, 3)
    actor = services.actor(click.user)
    with services.read() as db:
        case = replies.check_may_reply(db=db, case_id=case_id, actor=actor, org=services.org)
        suggestion = db.get(Suggestion, suggestion_id)
        if suggestion is None or suggestion.case_id != case_id:
            raise BadPayload("drafts of another case")
        text = suggestion.drafts[index]["text"] if 0 <= index < len(suggestion.drafts) else ""
        meta = {"case": case_id, "suggestion": suggestion_id, "index": index}
        view = reply_edit_modal(text, case.mention.source, actor.initials, meta)
    client.views_open(trigger_id=click.trigger_id, view=view)


def open_edit_reply(ack, body, client, services):
    ack()
    click = Click.of(body)
    case_id, reply_id = refs(click.value, 2)
    actor = services.actor(click.user)
    with services.read() as db:
        case = replies.check_may_reply(db=db, case_id=case_id, actor=actor, org=services.org)
        reply = _reply_of(db, case, reply_id)
        meta = {"case": case_id, "suggestion": reply.suggestion_id, "index": reply.draft_index}
        view = reply_edit_modal(reply.text, case.mention.source, actor.initials, meta)
    client.views_open(trigger_id=click.trigger_id, view=view)


def _reply_of(db, case: Case, reply_id: int) -> Reply:
    reply = db.get(Reply, reply_id)
    if reply is None or reply.case_id != case.id:
        raise BadPayload("a reply of another case")
    return reply


def submit_edit(ack, body, view, services):
    meta, text = metadata(view), field(view, "text")
    if not text:
        ack(response_action="errors", errors={"text": "Write the reply."})
        return

    def change(db):
        replies.approve(
            db=db,
            case_id=case_ref(str(meta.get("case"))),
            suggestion_id=_optional_int(meta.get("suggestion")),
            index=_optional_int(meta.get("index")),
            text=text,
            actor=services.actor(body["user"]["id"]),
            org=services.org,
            rules=desk(services).guide.rules,
            now=services.now(),
        )

    apply_submission(ack, view, services, change, "text")


def _optional_int(value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise BadPayload("private_metadata is not ours")
    return value


def second_approve(ack, body, services, respond):
    ack()

    def change(db, click, actor):
        case_id, reply_id = refs(click.value, 2)
        return replies.second_approve(
            db=db,
            case_id=case_id,
            reply_id=reply_id,
            actor=actor,
            org=services.org,
            now=services.now(),
        )

    apply_click(body, services, respond, change, "Approved as second approver: it can go now.")


def post(ack, body, services, respond):
    """Post once: the reply is marked as being posted (committed) before it is sent, and what
    the network said is recorded after. A refusal can be posted again by a person; an unclear
    answer is never retried."""
    ack()
    click, publishing = Click.of(body), desk(services)
    case_id, reply_id = refs(click.value, 2)
    actor = services.actor(click.user)
    with services.unit() as db:
        if not first_time(db, key=click.key, now=services.now()):
            return  # a retry of a click already posting
        case = db.get(Case, case_id)
        source = case.mention.source if case else ""
        if not publishing.can_post(source):
            raise InvalidTransition("The bot cannot post there; reply by hand and mark it.")
        reply = replies.start_posting(
            db=db,
            case_id=case_id,
            reply_id=reply_id,
            actor=actor,
            org=services.org,
            now=services.now(),
        )
        text, in_reply_to = reply.text, case.mention.external_id
    try:
        posted_id, address = publishing.post(source, text, in_reply_to)
    except (PostRefused, PostUncertain) as error:
        uncertain = isinstance(error, PostUncertain)
        with services.unit() as db:
            replies.post_failed(
                db=db,
                reply_id=reply_id,
                error=str(error),
                uncertain=uncertain,
                org=services.org,
                now=services.now(),
            )
        said = "It may or may not be out; look before doing anything." if uncertain else ""
        respond(text=f"Not posted: {error}. {said}".strip(), response_type="ephemeral")
        return
    with services.unit() as db:
        replies.posted(
            db=db,
            reply_id=reply_id,
            posted_id=posted_id,
            link=address,
            org=services.org,
            now=services.now(),
        )
    respond(text=f"Posted: {address}", response_type="ephemeral", replace_original=False)


def open_mark(ack, body, client, services):
    ack()
    click = Click.of(body)
    case_id, reply_id = refs(click.value, 2)
    actor = services.actor(click.user)
    with services.read() as db:
        case = replies.check_may_reply(db=db, case_id=case_id, actor=actor, org=services.org)
        _reply_of(db, case, reply_id)
    client.views_open(trigger_id=click.trigger_id, view=mark_replied_modal(case_id, reply_id))


def submit_mark(ack, body, view, services):
    meta, address = metadata(view), field(view, "link")
    if not address or not address.startswith(("https://", "http://")):
        ack(response_action="errors", errors={"link": "Paste the link to the public reply."})
        return

    def change(db):
        replies.mark_replied(
            db=db,
            case_id=case_ref(str(meta.get("case"))),
            reply_id=_optional_int(meta.get("reply")),
            link=address,
            actor=services.actor(body["user"]["id"]),
            org=services.org,
            now=services.now(),
        )

    apply_submission(ack, view, services, change, "link")
