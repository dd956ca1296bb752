"""Message templates: Jinja2, one file per kind and language, with blocks ``subject``, ``email``, ``sms``.

Built-in templates live in ``baton/notify/templates/<language>/<kind>.j2`` (English ``en`` and
Brazilian Portuguese ``pt-BR``). An organisation overrides any of them with a row in
``notify_templates`` (same blocks); overrides render in Jinja2's sandbox, so a template
cannot reach Python internals. WhatsApp uses the ``sms`` block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from baton.domain.errors import ValidationError
from baton.notify.model import LANGUAGES, Kind

log = logging.getLogger(__name__)
TEMPLATE_DIR = Path(__file__).parent / "templates"
BLOCKS = ("subject", "email", "sms")
TRACK_LABEL = {"en": "Track your delivery", "pt-BR": "Acompanhe sua entrega"}


@dataclass(frozen=True)
class Rendered:
    """A rendered message: ``subject`` (e-mail only), plain ``body`` and, for e-mail, ``html``."""

    subject: str
    body: str
    html: str | None = None


def _environment(overrides: dict[str, str]) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=ChoiceLoader([DictLoader(overrides), FileSystemLoader(str(TEMPLATE_DIR))]),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        undefined=StrictUndefined, keep_trailing_newline=False,
    )


def validate_template(source: str) -> None:
    """Check an override compiles and has the three blocks.

    Raises:
        ValidationError: naming ``source`` and the problem.
    """
    env = _environment({})
    try:
        template = env.from_string(source)
    except TemplateError as exc:
        raise ValidationError(f"source: template does not compile: {exc}") from None
    missing = [b for b in BLOCKS if b not in template.blocks]
    if missing:
        raise ValidationError(f"source: template lacks block(s) {', '.join(missing)}")


class Renderer:
    """Renders messages for one organisation (``overrides``: ``{(kind, language): source}``)."""

    def __init__(self, overrides: dict[tuple[str, str], str] | None = None) -> None:
        self.mapping = {f"{lang}/{kind}.j2": src for (kind, lang), src in (overrides or {}).items()}
        self.env = _environment(self.mapping)
        self.builtin = _environment({})

    def render(self, kind: Kind | str, language: str, channel: str, context: dict[str, Any]) -> Rendered:
        """Render ``kind`` in ``language`` for ``channel`` (``email``, ``sms``, ``whatsapp``, ``webhook``).

        An organisation override that fails to render falls back to the built-in template (logged),
        so a broken override never stops a message.

        Raises:
            ValidationError: when the kind or language is unknown, or a built-in template fails.
        """
        if language not in LANGUAGES:
            raise ValidationError(f"language: unsupported {language!r} (supported: {', '.join(LANGUAGES)})")
        kind = Kind(kind)
        name = f"{language}/{kind.value}.j2"
        if name in self.mapping:
            try:
                return self._render(self.env, kind, language, channel, context)
            except ValidationError as exc:
                log.warning("organisation template %s failed, using the built-in one: %s", name, exc)
        return self._render(self.builtin, kind, language, channel, context)

    def _render(self, env: SandboxedEnvironment, kind: Kind, language: str, channel: str,
                context: dict[str, Any]) -> Rendered:
        try:
            template = env.get_template(f"{language}/{kind.value}.j2")
            ctx = template.new_context(context)

            def block(name: str) -> str:
                return "".join(template.blocks[name](ctx)).strip()

            subject = block("subject")
            if channel == "email":
                text = block("email")
                html = env.get_template("email_layout.html.j2").render(
                    {**context, "subject": subject, "text": text, "language": language,
                     "track_label": TRACK_LABEL[language]})
                if context.get("tracking_url") and str(context["tracking_url"]) not in text:
                    text = f"{text}\n\n{TRACK_LABEL[language]}: {context['tracking_url']}"
                return Rendered(subject, text, html)
            return Rendered(subject, block("sms"))
        except TemplateError as exc:
            raise ValidationError(f"template {language}/{kind.value}: {exc}") from None
