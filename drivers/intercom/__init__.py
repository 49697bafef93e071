"""IP intercom drivers: 2N (HTTP API), Hikvision (ISAPI) and Dahua (HTTP CGI).

Each vendor module turns its device's event stream into ``observations`` and opens its
door relay; ``driver.IntercomDriver`` keeps the stream alive and maps observations to
domain events. See docs/intercoms.md.
"""
