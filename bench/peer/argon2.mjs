// `node argon2.mjs N`: the median of N argon2id hashes by @node-rs/argon2 at the user
// service's parameters, in milliseconds, one at a time (after one not counted).
import { hash, Algorithm } from "@node-rs/argon2";

const options = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const rounds = Number(process.argv[2] ?? 30);
await hash("warm-up-password-93", options);
const times = [];
for (let i = 0; i < rounds; i++) {
  const started = process.hrtime.bigint();
  await hash(`lantern-orbit-velvet-${i}`, options);
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}
times.sort((a, b) => a - b);
console.log(times[Math.floor(times.length / 2)].toFixed(3));
