"""A real OAuth client (Authlib's requests integration) fetching a token from the mock IdP
with an assertion tokenguard minted. Prints the token response as JSON; exit 1 with the
error on stderr when the IdP refuses.

  oauth_client.py jwt-bearer      TOKEN_ENDPOINT ASSERTION [SCOPE]
  oauth_client.py private-key-jwt TOKEN_ENDPOINT CLIENT_ID ASSERTION
"""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def main(argv):
    if len(argv) >= 3 and argv[0] == "jwt-bearer":
        endpoint, assertion = argv[1], argv[2]
        scope = argv[3] if len(argv) > 3 else "openid"
        # RFC 7523 §2.1: the assertion is the grant; no client authentication.
        s = OAuth2Session(token_endpoint_auth_method="none", scope=scope)
        token = s.fetch_token(endpoint, grant_type=JWT_BEARER, assertion=assertion)
    elif len(argv) == 4 and argv[0] == "private-key-jwt":
        endpoint, client_id, assertion = argv[1], argv[2], argv[3]
        # RFC 7523 §2.2: client_credentials, authenticated by the client assertion.
        s = OAuth2Session(client_id=client_id, token_endpoint_auth_method="none")
        token = s.fetch_token(
            endpoint,
            grant_type="client_credentials",
            client_assertion_type=CLIENT_ASSERTION,
            client_assertion=assertion,
        )
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(dict(token)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OAuthError as e:
        print(f"{e.error}: {e.description}", file=sys.stderr)
        sys.exit(1)
