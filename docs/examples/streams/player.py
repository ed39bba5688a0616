#!/usr/bin/env python3
"""A player's loop against Usher's streams API, as a content server runs it for one viewer:
start a stream, send heartbeats at the interval Usher announces, stop when playback ends.

    ISSUER=http://localhost:8080 CLIENT_ID=… CLIENT_SECRET=… VIEWER_TOKEN=… \
        python3 player.py living-room-tv "The Final" 3

plays for three heartbeats. It exits 0 after stopping, 3 when the account plays too many
streams already (it prints them, as an app would offer "Stop watching on …?"), 4 when the
stream was ended elsewhere (a heartbeat answered 404: stop the player), 1 on other errors.
Standard library only.
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ISSUER = os.environ.get("ISSUER", "http://localhost:8080")
BASIC = base64.b64encode(
    f"{os.environ['CLIENT_ID']}:{os.environ['CLIENT_SECRET']}".encode()
).decode()


def call(method, path, form=None):
    """Sends one request with the content server's credentials; returns (status, JSON body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(ISSUER + path, data=data, method=method)
    request.add_header("Authorization", "Basic " + BASIC)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body else None


def play(device_id, content, heartbeats):
    status, started = call(
        "POST",
        "/streams",
        {"token": os.environ["VIEWER_TOKEN"], "device_id": device_id, "content": content},
    )
    if status == 409:
        print(f"this account may play {started['max_streams']} streams at once; playing now:")
        for stream in started["streams"]:
            print(f"  {stream['device_id']}: {stream['content']} since {stream['started_at']} ({stream['stream_id']})")
        return 3
    if status != 201:
        print(f"start refused: {status} {started}")
        return 1
    stream_id = started["stream_id"]
    print(f"playing {content!r} on {device_id}: stream {stream_id}, "
          f"{started['active_streams']} of {started['max_streams']} in use")
    for _ in range(heartbeats):
        time.sleep(started["heartbeat_interval"])
        status, alive = call("POST", f"/streams/{stream_id}/heartbeat")
        if status == 404:
            print("the stream was ended elsewhere: stopping playback")
            return 4
        if status != 200:
            # A blip (503 while the database is away): keep playing and try again next time;
            # the lease outlasts two missed heartbeats.
            print(f"heartbeat not answered ({status}); trying again at the next interval")
            continue
        print(f"heartbeat: the stream lives {alive['expires_in']} s more")
    status, _ = call("DELETE", f"/streams/{stream_id}")
    print(f"stopped ({status})")
    return 0 if status == 204 else 1


if __name__ == "__main__":
    device, title, beats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.exit(play(device, title, beats))
