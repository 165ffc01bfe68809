"""How long each console page takes to render, as each role, over a long log.

    .venv/bin/python benchmarks/console_pages.py                      # 1,000,000 events
    .venv/bin/python benchmarks/console_pages.py --events 100000      # fewer
    .venv/bin/python benchmarks/console_pages.py --reuse              # keep an earlier log
    .venv/bin/python benchmarks/console_pages.py --requests 20        # per page (default 30)

The log is the one ``projections_rebuild.py`` builds: copies of a handful of
real cases (closed, major, extended and re-verified, overdue, dismissed, fixed
on the spot), each with fresh ids, bulk-inserted into a SQLite file
(``--sqlite-path``) or a PostgreSQL database (``--postgres-url``). The demo
users are added, ``rectify serve`` is started on it and left to bring its read
models up to the head of the log; then, for each role (inspector 陈小峰,
responsible party 陶表印, supervisor 张铭, auditor 刘芳):

- sign in through the console's own sign-in form, as a browser would;
- find the role's pages by following the links of its home, breadth first
  (only GET links on the console's own origin; downloads and static files are
  not pages). Links differing only in an id are one page: ``/cases/{id}``;
- request each page ``--requests`` times over up to ``--samples`` different
  ids, one request at a time, and print p50 and p95 of the time to the last
  byte, measured by the client over the loopback.

The pages are found rather than listed, so the benchmark covers what the
console offers each role today, and a page it cannot reach is reported missing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from projections_rebuild import template_events  # noqa: E402
from synthetic_log import event_count, fill  # noqa: E402

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, DemoUser  # noqa: E402
from infrastructure.users import create_user_store  # noqa: E402
from interfaces.cli.demo import ensure_demo_users  # noqa: E402
from tests.browser.server import ConsoleServer, start_console_server  # noqa: E402

DEFAULT_SQLITE = ROOT / "var" / "bench-console.sqlite3"
ROLES: tuple[DemoUser, ...] = (CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, AUDITOR)
CATCH_UP_TIMEOUT_SECONDS = 1800.0
# Ids in paths and queries: UUIDs, then plain numbers (versions, positions, pages).
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
NUMBER = re.compile(r"(?<=[/=])\d+(?=$|[/&])")
# Not pages: the assets, the evidence files, the API's own documents, and downloads.
NOT_PAGES = re.compile(
    r"^/(static|docs|redoc|openapi\.json)|^/ui/evidence/|export|download|\.(csv|jsonl|xlsx|pdf)$"
)


# -- reading HTML ----------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    password_field: str | None = None
    text_field: str | None = None


class PageParser(HTMLParser):
    """The links and forms of a page, as much as a benchmark needs of them."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        elif tag == "form":
            self.forms.append(
                Form(attributes.get("action", ""), attributes.get("method", "get").lower())
            )
        elif tag == "input" and self.forms and attributes.get("name"):
            form = self.forms[-1]
            name, kind = attributes["name"], attributes.get("type", "text").lower()
            if kind == "password":
                form.password_field = name
            elif kind in ("text", "email") and form.text_field is None:
                form.text_field = name
            elif kind in ("hidden", "submit") or kind == "text":
                form.fields[name] = attributes.get("value", "")


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


# -- signing in and finding the pages -------------------------------------------------------


def sign_in(client: httpx.Client, user: DemoUser) -> httpx.Response:
    """Sign in with the console's own form (its hidden fields, CSRF token included)."""
    page = client.get("/", follow_redirects=True)
    page.raise_for_status()
    form = next((f for f in parse(page.text).forms if f.password_field), None)
    if form is None or form.text_field is None:
        raise SystemExit(f"no sign-in form at {page.url}")
    data = {**form.fields, form.text_field: user.user_id, form.password_field: user.password}
    # The console checks Origin on every form, as a browser sends it.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(str(page.url)))
    response = client.post(
        urljoin(str(page.url), form.action or str(page.url)), data=data, headers={"Origin": origin}
    )
    if response.is_redirect:
        response = client.get(response.headers["location"], follow_redirects=True)
    still_signing_in = any(f.password_field for f in parse(response.text).forms)
    if response.status_code != 200 or still_signing_in:
        raise SystemExit(f"signing in as {user.user_id} failed: {response.status_code}")
    return response


def page_key(url: str) -> str:
    """A page's name: its path and query with each id replaced by ``{id}``."""
    parts = urlsplit(url)
    path = NUMBER.sub("{n}", UUID.sub("{id}", parts.path))
    if parts.query:
        keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
        path += "?" + "&".join(keys)
    return path


def discover(client: httpx.Client, home: httpx.Response, samples: int, depth: int) -> dict:
    """Breadth-first from the home page: each page found, with up to ``samples`` URLs."""
    origin = urlsplit(str(home.url))
    pages: dict[str, list[str]] = {page_key(str(home.url)): [str(home.url)]}
    queue = deque([(str(home.url), home.text, 0)])
    seen = {str(home.url)}
    while queue:
        url, html, level = queue.popleft()
        if level >= depth:
            continue
        for href in parse(html).links:
            target = urldefrag(urljoin(url, href)).url
            parts = urlsplit(target)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                continue
            if NOT_PAGES.search(parts.path) or target in seen:
                continue
            key = page_key(target)
            urls = pages.setdefault(key, [])
            if len(urls) >= samples:
                continue
            seen.add(target)
            started = time.perf_counter()
            response = client.get(target)
            if response.status_code != 200 or "text/html" not in response.headers.get(
                "content-type", ""
            ):
                if not urls:
                    del pages[key]
                if response.status_code not in (200, 303):
                    # A page the role is shown a link to must answer; say so, do not hide it.
                    seconds = time.perf_counter() - started
                    status = response.status_code
                    print(f"  not measured: {target} answered {status} in {seconds:.1f} s")
                continue
            urls.append(target)
            queue.append((target, response.text, level + 1))
    return pages


def measure(client: httpx.Client, urls: list[str], requests: int) -> list[float]:
    """Milliseconds to the last byte of each of ``requests`` GETs, cycling over ``urls``."""
    timings = []
    for index in range(requests):
        started = time.perf_counter()
        response = client.get(urls[index % len(urls)])
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{urls[index % len(urls)]}: {response.status_code}")
    return timings


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


HEADER = f"  {'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"


def row(page: str, timings: list[float]) -> str:
    """One page's line: p50, p95 and the slowest, in milliseconds."""
    return (
        f"  {page[:52]:<52} {statistics.median(timings):>8.1f} "
        f"{percentile(timings, 0.95):>8.1f} {max(timings):>8.1f}"
    )


# -- the run ------------------------------------------------------------------------------------


def wait_for_read_models(server: ConsoleServer) -> float:
    """Wait until every read model has applied the whole log; the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < CATCH_UP_TIMEOUT_SECONDS:
        health = httpx.get(f"{server.base_url}/health", timeout=30).json()
        if all(p["lag"] == 0 for p in health["projections"]):
            return time.perf_counter() - started
        time.sleep(1)
    raise SystemExit("the read models did not catch up in time:\n" + server.log_tail())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", help="use this PostgreSQL database instead of SQLite")
    parser.add_argument("--sqlite-path", default=str(DEFAULT_SQLITE))
    parser.add_argument("--reuse", action="store_true", help="keep a log already there")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--samples", type=int, default=5, help="different ids per page")
    parser.add_argument("--depth", type=int, default=3, help="links followed from home")
    args = parser.parse_args()

    if args.postgres_url:
        url = args.postgres_url
    else:
        Path(args.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(args.sqlite_path).resolve()}"
    started = time.perf_counter()
    fill(url, args.events, args.reuse, template_events)
    print(f"log: {event_count(url):,} events ({time.perf_counter() - started:.0f} s to fill)")
    users = create_user_store(url)
    try:
        ensure_demo_users(users)
    finally:
        users.close()

    with tempfile.TemporaryDirectory() as workdir:
        server = start_console_server(url, Path(workdir), demo=False)
        try:
            print(f"read models caught up in {wait_for_read_models(server):.0f} s")
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                print("\n== signed out")
                print(HEADER)
                print(row("/ui/signin", measure(client, ["/ui/signin"], args.requests)))
            for user in ROLES:
                with httpx.Client(base_url=server.base_url, timeout=120) as client:
                    home = sign_in(client, user)
                    pages = discover(client, home, args.samples, args.depth)
                    print(f"\n== {user.role.value} ({user.user_id}): {len(pages)} pages")
                    print(HEADER)
                    for key, urls in sorted(pages.items()):
                        print(row(key, measure(client, urls, args.requests)))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
