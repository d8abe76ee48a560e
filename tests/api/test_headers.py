"""Headers and cookies (issue 10, finding 7): a strict Content-Security-Policy
on every response, API docs served from this site, Secure cookies over
https, and the public default SECRET_KEY refused on a public site."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from orchestrator_site.security import DEFAULT_SECRET_KEY, check_secret_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["/login/", "/api/docs/", "/api/schema/"])
def test_every_response_has_a_strict_csp(db, url):
    r = Client().get(url)
    policy = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    script = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "unsafe-inline" not in script and "unsafe-eval" not in script and "http" not in script


def test_pages_name_no_third_party_origin(personas):
    client = Client()
    client.force_login(personas["alice"])
    for url in ["/api/docs/", "/login/", "/"]:
        body = client.get(url, follow=True).content.decode()
        assert not re.search(r"""(src|href)=["']https?://""", body), url
        assert "fonts.googleapis" not in body and "cdn.jsdelivr" not in body


def test_the_api_docs_load_redoc_from_this_site(db):
    body = Client().get("/api/docs/").content.decode()
    src = re.search(r'<script src="([^"]+)"', body).group(1)
    assert src.startswith("/static/") and "redoc" in src


def test_inline_scripts_carry_the_nonce(personas):
    client = Client()
    client.force_login(personas["alice"])
    r = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.content.decode()):
        assert f'nonce="{nonce}"' in tag or 'type="application/json"' in tag, tag


def settings_value(env: dict, expression: str) -> str:
    code = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='orchestrator_site.settings'; from django.conf import settings; print({expression})"
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CSRF_TRUSTED_ORIGINS", "SECURE_COOKIES", "DEBUG", "ALLOWED_HOSTS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def test_cookies_are_secure_when_the_site_is_https():
    https = {"CSRF_TRUSTED_ORIGINS": "https://orchestrator.example.com", "SECRET_KEY": "x" * 50}
    assert settings_value(https, "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE") == "True True"
    assert settings_value({"SECRET_KEY": "x" * 50}, "settings.SESSION_COOKIE_SECURE") == "False"
    assert settings_value({"SECURE_COOKIES": "1", "SECRET_KEY": "x" * 50}, "settings.CSRF_COOKIE_SECURE") == "True"


def test_the_default_secret_key_is_refused_on_a_public_site():
    out = settings_value({"ALLOWED_HOSTS": "orchestrator.example.com", "DEBUG": "0"}, "settings.SECRET_KEY")
    assert "ImproperlyConfigured" in out and "SECRET_KEY" in out
    with pytest.raises(ImproperlyConfigured):
        check_secret_key(DEFAULT_SECRET_KEY, False, ["orchestrator.example.com"])
    check_secret_key(DEFAULT_SECRET_KEY, False, ["127.0.0.1", "localhost"])  # a developer's machine: a warning only
    check_secret_key("a-real-key", False, ["orchestrator.example.com"])
