"""Passkeys checked as a client would use them, with an implementation we did not write.

Drives a running local server (its base URL the first argument) through registration,
usernameless sign-in and a passkey as the second factor. The service's options are
parsed by python-fido2's WebAuthn Level 3 JSON types
(`PublicKeyCredentialCreationOptions.from_dict`, ...), the authenticator's output is
built with fido2's own structures (AttestationObject, AuthenticatorData, COSE keys,
CollectedClientData) and a P-256 key of `cryptography`, and sent as fido2 serializes a
`RegistrationResponse` / `AuthenticationResponse` (`dict(response)`): what a browser's
`toJSON()` gives. Any mismatch of the JSON forms fails here, outside the Rust code.
Run by scripts/passkey-check (part of scripts/test).
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

ORIGIN = "http://localhost:3000"
FLAGS = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV | AuthenticatorData.FLAG.BE | AuthenticatorData.FLAG.BS


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(status, body, wanted, what):
    if status != wanted:
        sys.exit(f"passkey-check: {what}: expected {wanted}, got {status} {body}")
    return body


def claims(access_token):
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Authenticator:
    """A platform authenticator holding one discoverable ES256 credential."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle = None

    def create(self, options: PublicKeyCredentialCreationOptions) -> dict:
        assert any(p.alg == ES256.ALGORITHM for p in options.pub_key_cred_params), "ES256 offered"
        selection = options.authenticator_selection
        assert selection.resident_key == ResidentKeyRequirement.REQUIRED, "a discoverable credential"
        assert selection.user_verification == UserVerificationRequirement.REQUIRED, "user verification required"
        assert len(options.user.id) == 32, "a 32-byte user handle"
        self.user_handle = options.user.id
        client_data = CollectedClientData.create(CollectedClientData.TYPE.CREATE, options.challenge, ORIGIN)
        credential = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        auth_data = AuthenticatorData.create(
            sha256(options.rp.id.encode()), FLAGS | AuthenticatorData.FLAG.AT, self.counter, credential
        )
        response = RegistrationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=client_data, attestation_object=AttestationObject.create("none", auth_data, {})
            ),
        )
        return dict(response)

    def get(self, options: PublicKeyCredentialRequestOptions) -> dict:
        allowed = options.allow_credentials
        assert not allowed or any(c.id == self.credential_id for c in allowed), "this credential is allowed"
        self.counter += 1
        client_data = CollectedClientData.create(CollectedClientData.TYPE.GET, options.challenge, ORIGIN)
        auth_data = AuthenticatorData.create(sha256(options.rp_id.encode()), FLAGS, self.counter)
        signature = self.key.sign(auth_data + client_data.hash, ec.ECDSA(hashes.SHA256()))
        response = AuthenticationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data,
                authenticator_data=auth_data,
                signature=signature,
                user_handle=self.user_handle,
            ),
        )
        return dict(response)


def main(base):
    name = f"passkey_{os.getpid()}"
    password = f"passkeys are checked from python {os.getpid()}"
    account = {"username": name, "email": f"{name}@example.test", "password": password, "agreeToTerms": True}
    registered = expect(*call(base, "POST", "/api/auth/register", account), 201, "register")
    token = registered["accessToken"]

    authenticator = Authenticator()
    options = expect(*call(base, "POST", "/api/auth/passkeys/register/options", {}, token), 200, "register options")
    creation = PublicKeyCredentialCreationOptions.from_dict(options["publicKey"])
    credential = authenticator.create(creation)
    body = {"challengeId": options["challengeId"], "credential": credential, "name": "python-fido2"}
    passkey = expect(*call(base, "POST", "/api/auth/passkeys/register", body, token), 201, "register")
    assert passkey["name"] == "python-fido2", passkey

    options = expect(*call(base, "POST", "/api/auth/passkeys/login/options", {}), 200, "login options")
    request = PublicKeyCredentialRequestOptions.from_dict(options["publicKey"])
    assert not request.allow_credentials, "usernameless: no allowCredentials"
    body = {"challengeId": options["challengeId"], "credential": authenticator.get(request)}
    signed_in = expect(*call(base, "POST", "/api/auth/passkeys/login", body), 200, "passkey login")
    assert signed_in["user"]["username"] == name, signed_in["user"]
    assert claims(signed_in["accessToken"])["amr"] == ["pop", "mfa"], claims(signed_in["accessToken"])
    replayed = call(base, "POST", "/api/auth/passkeys/login", body)
    expect(*replayed, 401, "the same answer again")

    login = expect(*call(base, "POST", "/api/auth/login", {"identifier": name, "password": password}), 200, "login")
    assert login.get("mfaRequired") and "passkey" in login["methods"], login
    mfa_token = login["mfaToken"]
    options = expect(*call(base, "POST", "/api/auth/mfa/passkey/options", {"mfaToken": mfa_token}), 200, "mfa options")
    request = PublicKeyCredentialRequestOptions.from_dict(options["publicKey"])
    answer = {"challengeId": options["challengeId"], "credential": authenticator.get(request)}
    verified = expect(
        *call(base, "POST", "/api/auth/mfa/verify", {"mfaToken": mfa_token, "passkey": answer}), 200, "mfa/verify"
    )
    assert claims(verified["accessToken"])["amr"] == ["pwd", "pop"], claims(verified["accessToken"])
    print("passkey-check: registration, usernameless sign-in and the second factor work with python-fido2's JSON forms")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
