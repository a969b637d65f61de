"""Block Kit validation with Slack's limits, usable without a server.

`validate_message(blocks)` and `validate_view(view)` return a list of errors in Slack's own
format, "<reason> [json-pointer:/blocks/0/text/text]"; an empty list means Slack would accept it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
# Slack rejects a message whose blocks carry more than about 12,000 characters of text in total
# with msg_blocks_too_long (undocumented, observed by bolt-js users in issue #2509).
MAX_MESSAGE_BLOCKS_TEXT = 12_000

TEXT_TYPES = ("plain_text", "mrkdwn")
SELECTS = ("static_select", "external_select", "users_select", "conversations_select")
SELECTS += ("channels_select",)
MULTI_SELECTS = tuple(f"multi_{s}" for s in SELECTS)
CHOICES = ("checkboxes", "radio_buttons", "overflow")
PICKERS = ("datepicker", "timepicker", "datetimepicker")
ACTION_ELEMENTS = frozenset(("button", "workflow_button", *SELECTS, *MULTI_SELECTS, *CHOICES))
ACTION_ELEMENTS |= frozenset(PICKERS)
ACCESSORY_ELEMENTS = (ACTION_ELEMENTS - {"datetimepicker"}) | {"image"}
INPUT_ELEMENTS = frozenset((*SELECTS, *MULTI_SELECTS, "checkboxes", "radio_buttons", *PICKERS))
INPUT_ELEMENTS |= {"plain_text_input", "email_text_input", "number_input", "url_text_input"}
INPUT_ELEMENTS |= {"rich_text_input", "file_input"}
RICH_TEXT_PARTS = ("rich_text_section", "rich_text_list", "rich_text_preformatted")
RICH_TEXT_PARTS += ("rich_text_quote",)


class Checker:
    """Collects errors while walking a payload; every check names the JSON pointer it looked at."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(f"{reason} [json-pointer:{path}]")

    def too_long(self, path: str, limit: int, got: int) -> None:
        # Slack's own wording, plus the length it saw, which Slack leaves out.
        self.fail(path, f"must be less than {limit + 1} characters (got {got})")

    def string(
        self, obj: dict[str, Any], key: str, path: str, limit: int, required: bool = False
    ) -> None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"{path}/{key}", "must provide a string")
            return
        if not isinstance(value, str):
            self.fail(f"{path}/{key}", "must be a string")
        elif len(value) > limit:
            self.too_long(f"{path}/{key}", limit, len(value))

    def text(
        self,
        obj: Any,
        path: str,
        limit: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.fail(path, "must provide a text object")
            return
        if not isinstance(obj, dict):
            self.fail(path, "must be a text object")
            return
        allowed = ("plain_text",) if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.fail(f"{path}/type", f"must be one of {', '.join(allowed)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail(f"{path}/text", "must be a non-empty string")
        elif len(text) > limit:
            self.too_long(f"{path}/text", limit, len(text))

    def items(self, obj: dict[str, Any], key: str, path: str, low: int, high: int) -> list[Any]:
        value = obj.get(key)
        if not isinstance(value, list):
            self.fail(f"{path}/{key}", "must provide an array")
            return []
        if len(value) < low:
            self.fail(f"{path}/{key}", f"must have at least {low} items")
        elif len(value) > high:
            self.fail(f"{path}/{key}", f"no more than {high} items allowed (got {len(value)})")
        return value


# --- elements -------------------------------------------------------------------------------


def _option(check: Checker, option: Any, path: str, plain_only: bool, url_ok: bool) -> None:
    if not isinstance(option, dict):
        check.fail(path, "must be an option object")
        return
    check.text(option.get("text"), f"{path}/text", 75, plain_only=plain_only)
    check.string(option, "value", path, 150, required=True)
    check.text(option.get("description"), f"{path}/description", 75, required=False)
    if url_ok:
        check.string(option, "url", path, 3000)


def _options(check: Checker, element: dict[str, Any], path: str, high: int) -> None:
    kind = element["type"]
    plain_only = kind not in ("checkboxes", "radio_buttons")
    if "option_groups" in element and "options" not in element:
        for g, group in enumerate(check.items(element, "option_groups", path, 1, 100)):
            gpath = f"{path}/option_groups/{g}"
            check.text(group.get("label") if isinstance(group, dict) else None, gpath, 75, True)
            group_obj = group if isinstance(group, dict) else {}
            for i, opt in enumerate(check.items(group_obj, "options", gpath, 1, 100)):
                _option(check, opt, f"{gpath}/options/{i}", plain_only, False)
        return
    for i, opt in enumerate(check.items(element, "options", path, 1, high)):
        _option(check, opt, f"{path}/options/{i}", plain_only, kind == "overflow")


def _confirm(check: Checker, confirm: Any, path: str) -> None:
    if confirm is None:
        return
    if not isinstance(confirm, dict):
        check.fail(path, "must be a confirmation dialog object")
        return
    check.text(confirm.get("title"), f"{path}/title", 100, plain_only=True)
    check.text(confirm.get("text"), f"{path}/text", 300)
    check.text(confirm.get("confirm"), f"{path}/confirm", 30, plain_only=True)
    check.text(confirm.get("deny"), f"{path}/deny", 30, plain_only=True)


def _button(check: Checker, element: dict[str, Any], path: str) -> None:
    check.text(element.get("text"), f"{path}/text", 75, plain_only=True)
    check.string(element, "value", path, 2000)
    check.string(element, "url", path, 3000)
    if element.get("style") not in (None, "primary", "danger"):
        check.fail(f"{path}/style", "must be primary or danger")


def _image_element(check: Checker, element: dict[str, Any], path: str) -> None:
    if "image_url" not in element and "slack_file" not in element:
        check.fail(path, "must provide image_url or slack_file")
    check.string(element, "image_url", path, 3000)
    check.string(element, "alt_text", path, 2000, required=True)


def _element(check: Checker, element: Any, path: str, allowed: frozenset[str]) -> str | None:
    """Validate one element; returns its action_id for the uniqueness check."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        check.fail(path, "must be an element object with a type")
        return None
    kind = element["type"]
    if kind not in allowed:
        check.fail(f"{path}/type", f"element type `{kind}` is not allowed here")
        return None
    check.string(element, "action_id", path, 255)
    check.text(element.get("placeholder"), f"{path}/placeholder", 150, True, required=False)
    _confirm(check, element.get("confirm"), f"{path}/confirm")
    if kind == "button":
        _button(check, element, path)
    elif kind == "image":
        _image_element(check, element, path)
    elif kind in ("static_select", "multi_static_select"):
        _options(check, element, path, 100)
    elif kind == "overflow":
        _options(check, element, path, 5)
    elif kind in ("checkboxes", "radio_buttons"):
        _options(check, element, path, 10)
    elif kind == "plain_text_input":
        _bounded_int(check, element, "max_length", path, 3000)
        _bounded_int(check, element, "min_length", path, 3000)
    action_id = element.get("action_id")
    return action_id if isinstance(action_id, str) else None


def _bounded_int(check: Checker, obj: dict[str, Any], key: str, path: str, high: int) -> None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, int) or not 0 <= value <= high):
        check.fail(f"{path}/{key}", f"must be an integer from 0 to {high}")


def _unique_action_ids(check: Checker, action_ids: list[str | None], path: str) -> None:
    seen: set[str] = set()
    for i, action_id in enumerate(action_ids):
        if action_id is not None and action_id in seen:
            check.fail(f"{path}/{i}/action_id", f"action_id `{action_id}` is already used")
        if action_id is not None:
            seen.add(action_id)


# --- blocks ---------------------------------------------------------------------------------


def _section(check: Checker, block: dict[str, Any], path: str) -> None:
    if "text" not in block and "fields" not in block:
        check.fail(path, "section must provide text or fields")
    if "text" in block:
        check.text(block["text"], f"{path}/text", 3000)
    if "fields" in block:
        for i, field in enumerate(check.items(block, "fields", path, 1, 10)):
            check.text(field, f"{path}/fields/{i}", 2000)
    if "accessory" in block:
        _element(check, block["accessory"], f"{path}/accessory", ACCESSORY_ELEMENTS)


def _header(check: Checker, block: dict[str, Any], path: str) -> None:
    check.text(block.get("text"), f"{path}/text", 150, plain_only=True)


def _context(check: Checker, block: dict[str, Any], path: str) -> None:
    for i, element in enumerate(check.items(block, "elements", path, 1, 10)):
        epath = f"{path}/elements/{i}"
        if isinstance(element, dict) and element.get("type") == "image":
            _image_element(check, element, epath)
        else:
            check.text(element, epath, 3000)


def _actions(check: Checker, block: dict[str, Any], path: str) -> None:
    elements = check.items(block, "elements", path, 1, 25)
    ids = [
        _element(check, e, f"{path}/elements/{i}", ACTION_ELEMENTS) for i, e in enumerate(elements)
    ]
    _unique_action_ids(check, ids, f"{path}/elements")


def _image(check: Checker, block: dict[str, Any], path: str) -> None:
    _image_element(check, block, path)
    check.text(block.get("title"), f"{path}/title", 2000, plain_only=True, required=False)


def _input(check: Checker, block: dict[str, Any], path: str) -> None:
    check.text(block.get("label"), f"{path}/label", 2000, plain_only=True)
    check.text(block.get("hint"), f"{path}/hint", 2000, plain_only=True, required=False)
    if "element" not in block:
        check.fail(f"{path}/element", "must provide an element")
    else:
        _element(check, block["element"], f"{path}/element", INPUT_ELEMENTS)


def _rich_text(check: Checker, block: dict[str, Any], path: str) -> None:
    for i, part in enumerate(check.items(block, "elements", path, 1, 100)):
        if not isinstance(part, dict) or part.get("type") not in RICH_TEXT_PARTS:
            check.fail(f"{path}/elements/{i}", "must be a rich text section, list, quote or code")


def _file(check: Checker, block: dict[str, Any], path: str) -> None:
    check.string(block, "external_id", path, 255, required=True)
    if block.get("source") != "remote":
        check.fail(f"{path}/source", "must be `remote`")


def _video(check: Checker, block: dict[str, Any], path: str) -> None:
    check.string(block, "alt_text", path, 2000, required=True)
    check.text(block.get("title"), f"{path}/title", 200, plain_only=True)
    check.string(block, "thumbnail_url", path, 3000, required=True)
    check.string(block, "video_url", path, 3000, required=True)


def _markdown(check: Checker, block: dict[str, Any], path: str) -> None:
    check.string(block, "text", path, 12_000, required=True)


def _divider(_check: Checker, _block: dict[str, Any], _path: str) -> None:
    return None


BLOCK_CHECKS: dict[str, Callable[[Checker, dict[str, Any], str], None]] = {
    "section": _section,
    "header": _header,
    "context": _context,
    "divider": _divider,
    "actions": _actions,
    "image": _image,
    "input": _input,
    "rich_text": _rich_text,
    "file": _file,
    "video": _video,
    "markdown": _markdown,
}


def _blocks(check: Checker, blocks: Any, path: str, limit: int) -> None:
    if not isinstance(blocks, list):
        check.fail(path, "must provide an array of blocks")
        return
    if len(blocks) > limit:
        check.fail(path, f"no more than {limit} items allowed (got {len(blocks)} blocks)")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _block(check, block, f"{path}/{i}", block_ids)


def _block(check: Checker, block: Any, path: str, block_ids: set[str]) -> None:
    if not isinstance(block, dict):
        check.fail(path, "must be a block object")
        return
    kind = block.get("type")
    validator = BLOCK_CHECKS.get(kind) if isinstance(kind, str) else None
    if validator is None:
        check.fail(f"{path}/type", f"unsupported block type `{kind}`")
        return
    check.string(block, "block_id", path, 255)
    block_id = block.get("block_id")
    if isinstance(block_id, str):
        if block_id in block_ids:
            check.fail(f"{path}/block_id", f"block_id `{block_id}` is already used")
        block_ids.add(block_id)
    validator(check, block, path)


# --- entry points ---------------------------------------------------------------------------


def validate_message(blocks: Any, pointer: str = "/blocks") -> list[str]:
    """Errors Slack would report for a message's `blocks` (empty list: valid)."""
    check = Checker()
    _blocks(check, blocks, pointer, MAX_MESSAGE_BLOCKS)
    return check.errors


def validate_view(view: Any, pointer: str = "/view") -> list[str]:
    """Errors Slack would report for a modal or Home tab view (empty list: valid)."""
    check = Checker()
    if not isinstance(view, dict):
        check.fail(pointer, "must provide a view object")
        return check.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        check.fail(f"{pointer}/type", "must be modal or home")
    _blocks(check, view.get("blocks"), f"{pointer}/blocks", MAX_VIEW_BLOCKS)
    if kind == "modal":
        _modal_chrome(check, view, pointer)
    check.string(view, "private_metadata", pointer, 3000)
    check.string(view, "callback_id", pointer, 255)
    check.string(view, "external_id", pointer, 255)
    size = len(json.dumps(view).encode("utf-8"))
    if size > MAX_VIEW_BYTES:
        check.fail(pointer, f"view must be less than {MAX_VIEW_BYTES + 1} bytes (got {size})")
    return check.errors


def _modal_chrome(check: Checker, view: dict[str, Any], pointer: str) -> None:
    check.text(view.get("title"), f"{pointer}/title", 24, plain_only=True)
    check.text(view.get("submit"), f"{pointer}/submit", 24, plain_only=True, required=False)
    check.text(view.get("close"), f"{pointer}/close", 24, plain_only=True, required=False)
    blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        check.fail(f"{pointer}/submit", "must provide submit when the view has input blocks")


def blocks_text_length(value: Any) -> int:
    """Characters of text carried by a blocks payload, as Slack counts for msg_blocks_too_long."""
    if isinstance(value, list):
        return sum(blocks_text_length(v) for v in value)
    if not isinstance(value, dict):
        return 0
    total = 0
    for key, item in value.items():
        if key == "text" and isinstance(item, str):
            total += len(item)
        else:
            total += blocks_text_length(item)
    return total
