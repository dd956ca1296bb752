"""Channel adapters: e-mail over SMTP, SMS/WhatsApp over a Twilio-compatible API, signed webhooks.

Each implements :class:`baton.adapters.channels.base.Channel`: ``send(message) -> SendResult``,
raising :class:`~baton.adapters.channels.base.TransientChannelError` (retry later) or
:class:`~baton.adapters.channels.base.PermanentChannelError` (do not retry; fall back).
"""
