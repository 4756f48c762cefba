// The peer of `scripts/bench-peer`: Better Auth as a team would set it up instead of the
// user service, on PostgreSQL (`PEER_DATABASE_URL`), listening on 127.0.0.1:`PORT`. Its
// password hook is argon2id at the user service's parameters (m=19456 KiB, t=2, p=1)
// through @node-rs/argon2, so both sides do the same hashing work; its rate limit is
// off, as the bench lifts the service's own. Prints "listening" when it answers.
import http from "node:http";
import { hash, verify, Algorithm } from "@node-rs/argon2";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import pg from "pg";

const port = Number(process.env.PORT);
const argon2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const options = {
  database: new pg.Pool({ connectionString: process.env.PEER_DATABASE_URL }),
  baseURL: `http://127.0.0.1:${port}`,
  // A bench-only value: Better Auth refuses to start without a secret.
  secret: "bench-peer-not-a-secret-0123456789abcdef",
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  emailAndPassword: {
    enabled: true,
    password: {
      hash: (password) => hash(password, argon2),
      verify: ({ hash: stored, password }) => verify(stored, password),
    },
  },
};

const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
http.createServer(toNodeHandler(auth)).listen(port, "127.0.0.1", () => console.log("listening"));
