# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A requests transport adapter that answers from a script, for client unit tests."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter


class Scripted(BaseAdapter):
    """Answers each request with the next item of `answers`: (status, body, headers) or an exception.

    body is sent as JSON, or as it is when it is bytes."""

    def __init__(self, answers=None, handler=None):
        super().__init__()
        self.answers = list(answers or [])
        self.handler = handler
        self.sent = []

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        parts = urlsplit(request.url)
        self.sent.append(dict(method=request.method, path=parts.path, query={k: v[0] for k, v in parse_qs(parts.query).items()},
                              headers=dict(request.headers), body=request.body, timeout=kwargs.get("timeout")))
        answer = self.handler(self.sent[-1]) if self.handler else self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body, headers = (tuple(answer) + (None, None))[:3]
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {})
        if isinstance(body, bytes):
            response._content = body  # a raw answer, for answers that are not JSON
        else:
            response._content = b"" if body is None else json.dumps(body).encode()
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def mount(client, adapter: Scripted) -> Scripted:
    client.session.mount("http://", adapter)
    client.session.mount("https://", adapter)
    return adapter
