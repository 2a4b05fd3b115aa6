"""Pulling the current bundle over HTTPS with conditional requests, then applying it.

The validators (ETag, Last-Modified) of the last processed answer are kept per URL in
the store, so an unchanged bundle costs a 304. A pulled bundle must also be fresh: one
signed longer ago than fleet.max_bundle_age_days is refused ("stale"), so a server stuck
on an old bundle (freeze) shows up as a refusal instead of silently passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from kiosk.errors import BundleRefused
from kiosk.fleet import store
from kiosk.fleet.apply import ApplyResult, apply_bundle
from kiosk.fleet.bundle import MAX_BUNDLE_BYTES
from kiosk.paths import KioskPaths
from kiosk.settings import FleetSettings
from kiosk.urls import check_service_url

# Refusals that the same bytes will always get: remember the validators so we get a 304.
SETTLED_REFUSALS = frozenset({"replayed_version", "old_version", "rolled_back_version"})


@dataclass(frozen=True)
class PullResult:
    """What a pull did: not_modified, up_to_date, applied."""

    action: str
    http_status: int
    applied: ApplyResult | None = None


def _headers(cache: dict[str, str], url: str) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if f"etag {url}" in cache:
        headers["If-None-Match"] = cache[f"etag {url}"]
    if f"last-modified {url}" in cache:
        headers["If-Modified-Since"] = cache[f"last-modified {url}"]
    return headers


def _remember(paths: KioskPaths, url: str, response: requests.Response) -> None:
    cache = store.read_pull_cache(paths)
    for header, key in (("ETag", f"etag {url}"), ("Last-Modified", f"last-modified {url}")):
        value = response.headers.get(header)
        if value:
            cache[key] = value
        else:
            cache.pop(key, None)
    store.write_pull_cache(paths, cache)


def fetch(url: str, paths: KioskPaths, fleet: FleetSettings) -> requests.Response:
    """GET the bundle with the stored validators; BundleRefused('unreachable') on failure."""
    verify: bool | str = fleet.pull_ca_file or True
    try:
        response = requests.get(
            url,
            headers=_headers(store.read_pull_cache(paths), url),
            timeout=fleet.pull_timeout_s,
            verify=verify,
        )
    except requests.RequestException as exc:
        raise BundleRefused("unreachable", f"{url}: {exc}", url=url) from exc
    if len(response.content) > MAX_BUNDLE_BYTES:
        raise BundleRefused("malformed_bundle", f"{url}: answer larger than {MAX_BUNDLE_BYTES}")
    return response


def pull_bundle(
    url: str, paths: KioskPaths, fleet: FleetSettings, now: datetime | None = None
) -> PullResult:
    """Fetch ``url`` and apply it if it changed; refusals raise BundleRefused.

    ConfigError before any connection if the HTTP client would not reach ``url`` safely
    (kiosk/urls.py): the URL may come from the command line, not only from the settings.
    """
    check_service_url(url, "fleet.pull_url")
    response = fetch(url, paths, fleet)
    if response.status_code == 304:
        return PullResult("not_modified", 304)
    if response.status_code != 200:
        raise BundleRefused(
            "unreachable", f"{url} answered HTTP {response.status_code}", url=url
        )
    try:
        result = apply_bundle(
            response.content, paths, now, max_age=timedelta(days=fleet.max_bundle_age_days)
        )
    except BundleRefused as refused:
        if refused.reason in SETTLED_REFUSALS:
            _remember(paths, url, response)
            if refused.reason == "replayed_version":
                return PullResult("up_to_date", 200)
        raise
    _remember(paths, url, response)
    return PullResult("applied", 200, result)
