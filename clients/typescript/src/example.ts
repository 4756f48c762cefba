// Another service of the platform using the user service: a sign-up and a sign-in with
// types generated from its OpenAPI document, then the access token verified as any
// service that trusts it should: with a standard library (jose), against the published
// JWKS, the issuer, the audience and the algorithm pinned. Run: BASE_URL=http://127.0.0.1:3000
// npm run example (it prints what it verified as JSON, and exits non-zero on any failure).
import { createRemoteJWKSet, jwtVerify, errors } from "jose";
import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];
type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : never;
type RegisterAnswer = JsonOf<operations["register"]["responses"][201]>;
type LoginAnswer = JsonOf<operations["login"]["responses"][200]>;
type Discovery = JsonOf<operations["openid_configuration"]["responses"][200]>;

const base = (process.env.BASE_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");
/** What this service expects in the tokens it accepts. */
const AUDIENCE = process.env.JWT_AUDIENCE ?? "social-platform";

async function call<T>(method: string, path: string, body?: unknown, expected = 200): Promise<T> {
  const answer = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const payload: unknown = await answer.json();
  if (answer.status !== expected) {
    const error = payload as Schemas["Error"];
    throw new Error(`${method} ${path}: ${answer.status} ${error.error.code}: ${error.error.message}`);
  }
  return payload as T;
}

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const registration: Schemas["RegisterRequest"] = {
  username: `ts_${suffix}`.slice(0, 30),
  email: `ts.${suffix}@example.org`,
  password: `lantern-orbit-velvet-${suffix}`,
  agreeToTerms: true,
};
const registered = await call<RegisterAnswer>("POST", "/api/auth/register", registration, 201);
const signedIn = await call<LoginAnswer>("POST", "/api/auth/login", {
  identifier: registration.username,
  password: registration.password,
});
if (!("accessToken" in signedIn)) throw new Error("sign-in asked for a second factor");

// The issuer and the key set come from the discovery document; the audience and the
// algorithm are this service's own expectations, never read from the token.
const discovery = await call<Discovery>("GET", "/.well-known/openid-configuration");
const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(signedIn.accessToken, keys, {
  issuer: discovery.issuer,
  audience: AUDIENCE,
  algorithms: ["RS256"],
});
if (payload.sub !== registered.user.id) throw new Error(`the token names ${payload.sub}, not ${registered.user.id}`);

// A token changed by one character is refused.
const [head, claims, signature] = signedIn.accessToken.split(".");
const flipped = signature!.startsWith("A") ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
let tamperedRefused = false;
try {
  await jwtVerify(`${head}.${claims}.${flipped}`, keys, { issuer: discovery.issuer, audience: AUDIENCE, algorithms: ["RS256"] });
} catch (error) {
  tamperedRefused = error instanceof errors.JWSSignatureVerificationFailed;
}
if (!tamperedRefused) throw new Error("a tampered token was not refused");

console.log(JSON.stringify({
  userId: payload.sub,
  username: registered.user.username,
  issuer: payload.iss,
  audience: payload.aud,
  algorithm: protectedHeader.alg,
  keyId: protectedHeader.kid,
  expiresIn: signedIn.expiresIn,
  tamperedRefused,
}));
