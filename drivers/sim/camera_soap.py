"""SOAP 1.2 wire format for the simulated ONVIF camera: envelopes, faults, WS-Security.

Requests are parsed with defusedxml (a request with a DTD or entities is refused).
Responses are built from small templates in the ONVIF namespaces, so a real ONVIF client
(onvif-zeep-async, zeep) parses them with the ONVIF WSDLs.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
_XMLNS = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items())
CONTENT_TYPE = "application/soap+xml; charset=utf-8"


class BadRequest(Exception):
    """The request is not a SOAP envelope we can read."""


@dataclass(frozen=True, slots=True)
class Request:
    operation: str  # local name of the Body's first child
    body: ET.Element
    token: dict[str, str]  # UsernameToken fields by local name; empty if none


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_request(data: bytes) -> Request:
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # defusedxml refuses DTDs/entities; ParseError on junk
        raise BadRequest(f"{type(exc).__name__}: {exc}") from None
    body = next((c for c in root if _local(c.tag) == "Body"), None)
    if body is None or len(body) == 0:
        raise BadRequest("no SOAP Body")
    token: dict[str, str] = {}
    header = next((c for c in root if _local(c.tag) == "Header"), None)
    if header is not None:
        for el in header.iter():
            if _local(el.tag) in ("Username", "Password", "Nonce", "Created"):
                token[_local(el.tag)] = (el.text or "").strip()
                if _local(el.tag) == "Password":
                    token["PasswordType"] = el.get("Type", "")
    return Request(_local(body[0].tag), body[0], token)


def find_text(el: ET.Element, name: str) -> str | None:
    """Text of the first descendant whose local name is ``name``."""
    for child in el.iter():
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def find_attr(el: ET.Element, name: str, attr: str) -> str | None:
    for child in el.iter():
        if _local(child.tag) == name:
            return child.get(attr)
    return None


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-UsernameToken PasswordDigest: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()


def check_token(
    token: dict[str, str], user: str, password: str, camera_now: datetime, window_s: float
) -> str | None:
    """None if the token is valid at the camera's own time, else why not."""
    if not token.get("Username"):
        return "no UsernameToken"
    if token["Username"] != user:
        return "unknown user"
    if token.get("PasswordType", "").endswith("#PasswordText"):
        return None if token.get("Password") == password else "wrong password"
    try:
        nonce = base64.b64decode(token.get("Nonce", ""), validate=True)
        created = datetime.fromisoformat(token.get("Created", "").replace("Z", "+00:00"))
    except ValueError:
        return "bad nonce or created"
    if created.tzinfo is None or abs((created - camera_now).total_seconds()) > window_s:
        return "created outside the camera's time window"
    if password_digest(nonce, token["Created"], password) != token.get("Password"):
        return "wrong password"
    return None


def xml_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_s(text: str | None, default: float) -> float:
    """An xs:duration like PT60S / PT1M / PT1H30M, or an absolute time is not handled here."""
    if not text or not text.startswith("PT"):
        return default
    total, number = 0.0, ""
    for ch in text[2:]:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in "HMS" and number:
            total += float(number) * {"H": 3600, "M": 60, "S": 1}[ch]
            number = ""
        else:
            return default
    return total


def termination(text: str | None, camera_now: datetime, default_s: float) -> datetime:
    """An InitialTerminationTime / TerminationTime: relative (PT..) or absolute."""
    if text and not text.startswith("PT"):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    return camera_now + timedelta(seconds=duration_s(text, default_s))


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {_XMLNS}><s:Body>{body}'
        "</s:Body></s:Envelope>"
    ).encode()


def fault(subcode: str, reason: str, code: str = "s:Sender") -> bytes:
    return envelope(
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{escape(reason)}</s:Text>'
        "</s:Reason></s:Fault>"
    )


def date_time(camera_now: datetime) -> str:
    t = camera_now
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
        f"<tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
        f"<tt:Second>{t.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{t.year}</tt:Year><tt:Month>{t.month}</tt:Month>"
        f"<tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def device_information(model: str, serial: str) -> str:
    return (
        "<tds:GetDeviceInformationResponse><tds:Manufacturer>edgectl-sim</tds:Manufacturer>"
        f"<tds:Model>{escape(model)}</tds:Model><tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{escape(serial)}</tds:SerialNumber><tds:HardwareId>sim</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def capabilities(base: str, ptz: bool, pullpoint: bool) -> str:
    pp = str(pullpoint).lower()
    ptz_xml = f"<tt:PTZ><tt:XAddr>{base}/onvif/ptz_service</tt:XAddr></tt:PTZ>" if ptz else ""
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device>"
        f"<tt:Events><tt:XAddr>{base}/onvif/event_service</tt:XAddr>"
        "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
        f"<tt:WSPullPointSupport>{pp}</tt:WSPullPointSupport>"
        "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
        "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
        f"<tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr>"
        "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
        "</tt:StreamingCapabilities></tt:Media>"
        f"{ptz_xml}</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def services(base: str, ptz: bool) -> str:
    items = [
        (NS["tds"], "device_service"),
        (NS["trt"], "media_service"),
        (NS["tev"], "event_service"),
    ]
    if ptz:
        items.append((NS["tptz"], "ptz_service"))
    return (
        "<tds:GetServicesResponse>"
        + "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
            f"<tds:XAddr>{base}/onvif/{path}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
            "</tds:Service>"
            for ns, path in items
        )
        + "</tds:GetServicesResponse>"
    )


def profiles(width: int, height: int, ptz: bool) -> str:
    ptz_xml = (
        '<tt:PTZConfiguration token="ptz0"><tt:Name>ptz</tt:Name><tt:UseCount>1</tt:UseCount>'
        "<tt:NodeToken>node0</tt:NodeToken></tt:PTZConfiguration>"
        if ptz
        else ""
    )
    return (
        '<trt:GetProfilesResponse><trt:Profiles token="profile_1" fixed="true">'
        "<tt:Name>main</tt:Name>"
        '<tt:VideoSourceConfiguration token="vsc"><tt:Name>vsc</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/>'
        "</tt:VideoSourceConfiguration>"
        '<tt:VideoEncoderConfiguration token="vec"><tt:Name>vec</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>JPEG</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height>"
        "</tt:Resolution><tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration>"
        f"{ptz_xml}</trt:Profiles></trt:GetProfilesResponse>"
    )


def media_uri(operation: str, uri: str) -> str:
    return (
        f"<trt:{operation}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
        "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
        f"</trt:MediaUri></trt:{operation}Response>"
    )


def presets(items: dict[str, tuple[str, float, float, float]]) -> str:
    return (
        "<tptz:GetPresetsResponse>"
        + "".join(
            f'<tptz:Preset token="{escape(token)}"><tt:Name>{escape(name)}</tt:Name>'
            f'<tt:PTZPosition><tt:PanTilt x="{x}" y="{y}"/><tt:Zoom x="{z}"/></tt:PTZPosition>'
            "</tptz:Preset>"
            for token, (name, x, y, z) in items.items()
        )
        + "</tptz:GetPresetsResponse>"
    )


def subscription(operation: str, address: str, now: datetime, until: datetime) -> str:
    return (
        f"<tev:{operation}Response><tev:SubscriptionReference>"
        f"<wsa:Address>{escape(address)}</wsa:Address></tev:SubscriptionReference>"
        f"<wsnt:CurrentTime>{xml_time(now)}</wsnt:CurrentTime>"
        f"<wsnt:TerminationTime>{xml_time(until)}</wsnt:TerminationTime>"
        f"</tev:{operation}Response>"
    )


def renewed(now: datetime, until: datetime) -> str:
    return (
        f"<wsnt:RenewResponse><wsnt:TerminationTime>{xml_time(until)}</wsnt:TerminationTime>"
        f"<wsnt:CurrentTime>{xml_time(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
    )


def notification(topic: str, at: datetime, source: tuple[str, str], data: tuple[str, str]) -> str:
    return (
        "<wsnt:NotificationMessage>"
        '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(topic)}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{xml_time(at)}" PropertyOperation="Changed">'
        f'<tt:Source><tt:SimpleItem Name="{source[0]}" Value="{escape(source[1])}"/></tt:Source>'
        f'<tt:Data><tt:SimpleItem Name="{data[0]}" Value="{escape(data[1])}"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def pulled(now: datetime, until: datetime, messages: list[str]) -> str:
    return (
        f"<tev:PullMessagesResponse><tev:CurrentTime>{xml_time(now)}</tev:CurrentTime>"
        f"<tev:TerminationTime>{xml_time(until)}</tev:TerminationTime>"
        + "".join(messages)
        + "</tev:PullMessagesResponse>"
    )


BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']>\n<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    b'<tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    b"<tds:Manufacturer>&lol9;</tds:Manufacturer></tds:GetDeviceInformationResponse>"
    b"</s:Body></s:Envelope>"
)
MALFORMED = b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tds:GetDev'
