"""Cloudflare runtime entry: the Worker and the Durable Object classes named in
wrangler.jsonc. The only module that imports the runtime (`workers`, `asgi`); all
behaviour lives in plain async Python elsewhere in src/."""

from urllib.parse import urlsplit

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint, fetch
from workers.workflows import NonRetryableError

from app import app
from middleware import unknown_method
from lti import http as lti_http
from durable.chat_conversation import ChatConversation
from durable.oidc_state import OIDCState
from durable.struggle_detector import StruggleDetector
from durable.grade_sync import GradeSync
from jobs.scheduled import on_scheduled
from backups.export import run_export
from backups.restore import run_restore
from insights.job import run_snapshots


async def _fetch_transport(method, url, headers, body, timeout_s):
    response = await fetch(url, method=method, headers=headers, body=body)
    data = await response.bytes()
    return lti_http.HttpResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, data)


# Installing a function is not I/O: allowed at import (snapshot) time.
lti_http.install(_fetch_transport)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        import asgi  # the runtime's ASGI bridge; scope["env"] carries the bindings

        js_request = getattr(request, "js_object", request)
        ray = js_request.headers.get("cf-ray")
        refused = unknown_method(app, str(js_request.method).upper(), urlsplit(str(js_request.url)).path,
                                 ray if isinstance(ray, str) else None)
        if refused is not None:  # a method the bridge cannot carry into the app
            status, headers, body = refused
            return Response(body, status=status, headers=headers)
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


class GradeSyncDO(DurableObject, GradeSync):
    pass


# Workflows (wrangler.jsonc `workflows`): the run is plain Python in src/backups/; a
# NonRetryableError (a refused restore) ends the instance without retries.
class TenantExportWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return await run_export(self.env, event, step, fatal=NonRetryableError)


class TenantRestoreWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return await run_restore(self.env, event, step, fatal=NonRetryableError)


class TenantInsightsWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return await run_snapshots(self.env, event, step, fatal=NonRetryableError)
