"""Where webhooks may be delivered: the operator's allow-list (``RECTIFY_WEBHOOK_ALLOW``).

The setting is a comma-separated list of host names (``hooks.example.org``, or
``*.example.org`` for its subdomains), IP addresses and networks
(``10.1.2.0/24``). A target's host must be on it, by name or by address. Then
its name is resolved, and every address it resolves to must be public — not
loopback, private, link-local, multicast, reserved or unspecified — unless that
address is itself listed: a listed name that resolves to ``127.0.0.1`` is still
refused unless ``127.0.0.1`` is listed too, so a DNS answer cannot turn a
webhook against the service's own network. The check runs when a subscription
is made and again before every delivery (the answer may have changed).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.errors import InvalidCommand

ALLOW_VARIABLE = "WEBHOOK_ALLOW"  # RECTIFY_WEBHOOK_ALLOW, through the application's env

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class TargetRefused(InvalidCommand):
    """A webhook target that the allow-list or the address rules refuse."""

    def __init__(self, message: str, rule: str = "webhook_target_refused") -> None:
        super().__init__(message, rule=rule)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TargetRefused(
            f"the webhook host {host} does not resolve: {error}", rule="webhook_host_unresolved"
        ) from None
    return sorted({str(answer[4][0]) for answer in answers})


_NOT_PUBLIC = ("loopback", "link_local", "private", "multicast", "reserved", "unspecified")


def _special(address: IPAddress | IPNetwork) -> str | None:
    """Why an address (or a whole network) is not public, or None."""
    for flag in _NOT_PUBLIC:
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    return None


@dataclass(frozen=True)
class AllowList:
    """The operator's allow-list of webhook hosts and networks."""

    names: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        names: list[str] = []
        networks: list[IPNetwork] = []
        for item in (text or "").split(","):
            entry = item.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.append(entry.rstrip("."))
        return cls(tuple(names), tuple(networks))

    def lists_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(
            host == name or (name.startswith("*.") and host.endswith(name[1:]))
            for name in self.names
        )

    def lists_address(self, address: IPAddress) -> bool:
        """Whether ``address`` is listed. A loopback, private or link-local address
        is listed only by a network wholly of its kind (``127.0.0.1``,
        ``10.0.0.0/8``), never by a catch-all such as ``0.0.0.0/0``."""
        special = _special(address) is not None
        return any(
            address in network and (not special or _special(network) is not None)
            for network in self.networks
        )

    def check(self, url: str, resolver: Resolver | None = None) -> list[str]:
        """Refuse ``url`` unless it may receive webhooks; return the addresses it
        resolves to now (by ``resolver``, default: the system's DNS)."""
        host, port = _host_and_port(url)
        literal = _address(host)
        if literal is not None:
            listed = any(literal in network for network in self.networks)
        else:
            listed = self.lists_name(host)
        if not listed:
            raise TargetRefused(
                f"{host} is not on the webhook allow-list (RECTIFY_WEBHOOK_ALLOW); "
                "the operator must list it first",
                rule="webhook_target_not_allowed",
            )
        addresses = [str(literal)] if literal is not None else (resolver or resolve)(host, port)
        if not addresses:
            raise TargetRefused(
                f"the webhook host {host} resolves to no address", rule="webhook_host_unresolved"
            )
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            why = _special(address)
            if why is not None and not self.lists_address(address):
                raise TargetRefused(
                    f"{host} resolves to {address}, a {why} address; such a target is "
                    f"refused unless {address} is itself on the allow-list",
                    rule="webhook_target_private",
                )
        return addresses


def _address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(
            f"a webhook target is an http or https URL with a host, not {url!r}",
            rule="webhook_url_invalid",
        )
    if parts.username or parts.password:
        raise TargetRefused(
            "a webhook URL carries no user name or password; the signature authenticates",
            rule="webhook_url_invalid",
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused(
            f"the port of {url!r} is not valid", rule="webhook_url_invalid"
        ) from None
    return parts.hostname, port


def allow_list_from(settings: Iterable[tuple[str, str]] | object) -> AllowList:
    """The allow-list from an application's env (``RECTIFY_WEBHOOK_ALLOW``)."""
    getter = getattr(settings, "get", None)
    return AllowList.parse(getter(ALLOW_VARIABLE) if getter is not None else None)
