"""Sign a Slack request with Slack's own slack_sdk, so our verifier is checked against it.

Reads JSON {"secret", "timestamp", "body"} on stdin, prints the X-Slack-Signature value and
whether slack_sdk's own verifier accepts it.
"""
import json
import sys

from slack_sdk.signature import SignatureVerifier

req = json.load(sys.stdin)
verifier = SignatureVerifier(signing_secret=req["secret"])
sig = verifier.generate_signature(timestamp=req["timestamp"], body=req["body"])
ok = verifier.is_valid(body=req["body"], timestamp=req["timestamp"], signature=sig)
print(json.dumps({"signature": sig, "valid": ok}))
