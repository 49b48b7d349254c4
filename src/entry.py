"""Cloudflare runtime entry: the Worker and the Durable Object classes named in
wrangler.jsonc. The only module that imports the runtime (`workers`, `asgi`); all
behaviour lives in plain async Python elsewhere in src/."""

from workers import DurableObject, WorkerEntrypoint

from app import app
from durable.chat_conversation import ChatConversation
from durable.oidc_state import OIDCState
from durable.struggle_detector import StruggleDetector
from jobs.scheduled import on_scheduled


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        import asgi  # the runtime's ASGI bridge; scope["env"] carries the bindings

        return await asgi.fetch(app, request, self.env, self.ctx)

    async def scheduled(self, controller, env=None, ctx=None):
        await on_scheduled(controller.cron, controller.scheduledTime, self.env)


# The SDK's DurableObject supplies ctx/env; behaviour comes from the plain classes.
class OIDCStateDurableObject(DurableObject, OIDCState):
    pass


class StruggleDetectorDO(DurableObject, StruggleDetector):
    pass


class ChatConversationDO(DurableObject, ChatConversation):
    pass
